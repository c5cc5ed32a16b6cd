"""One call's life, as a pure state machine: `CallSession.handle(input) -> list[Command]`.

The session hosts the IVR interpreter (`ivr.interpreter`, itself pure) and translates between
the call's world (channels, playbacks, timers) and the IVR's (turns, prompts, waits). When the
IVR hands the call over (`Enqueue`), the session says so (`EnqueueCall`) and from then on only
watches for the end of the call: the ACD drives the channel.

Rules:
- no I/O and no clock of its own: every input carries its time, the adapter
  (`pbx.controller`) executes the commands in order and feeds back what happened;
- an input that makes no sense in the current state is ignored with a note in `self.notes`
  (ARI delivers stragglers after hang-ups), never an exception that could take a call down;
- what a restarted controller needs is written to the channel itself (`SetVar`): the phase
  (`CKM_STATE`), the IVR position (`CKM_IVR`, JSON) and, once queued, the queue request
  (`CKM_QUEUE`); a new controller that finds the channel still in Stasis `adopt`s it. The IVR
  steps taken so far (`CKM_PATH`, JSON) are written too, so that the scripted resident
  (`ckm call`) and anyone looking at the channel can see the way the call went.

IVR timing contract (see ivr/commands.py): the no-input timer of a `Listen`/`CollectDigits`
starts when the turn's prompt has finished (at once when nothing plays) and restarts on each
digit; prompts and timers answer with the turn they belong to, so stale ones are ignored.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ground import events as domain
from ivr import commands as ic
from ivr import events as ie
from ivr import interpreter
from ivr.model import Script

STATE_VAR = "CKM_STATE"
IVR_VAR = "CKM_IVR"
QUEUE_VAR = "CKM_QUEUE"
PATH_VAR = "CKM_PATH"  # the IVR steps so far (JSON list): for `ckm call` and people watching
# Once a caller has started to speak, they are not silent: the no-input timer waits this long
# for the recogniser's answer instead (Whisper needs ~1.5 s per utterance, more on a busy box).
SPEECH_RESULT_GRACE_S = 15.0


class CallState(enum.StrEnum):
    NEW = "new"
    IVR = "ivr"  # the IVR has the call
    QUEUED = "queued"  # handed to the ACD
    ENDING = "ending"  # we asked Asterisk to hang up
    ENDED = "ended"


# --- inputs (from the adapter) ----------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    at: datetime
    channel_id: str
    channel_name: str
    caller_number: str
    caller_name: str
    dialed: str


@dataclass(frozen=True)
class Adopted:
    """A channel found in our Stasis app after a reconnect or restart, with its saved vars."""

    at: datetime
    channel_id: str
    channel_name: str
    caller_number: str
    caller_name: str
    saved_state: str
    saved_ivr: str = ""
    saved_queue: str = ""


@dataclass(frozen=True)
class AnswerDone:
    at: datetime


@dataclass(frozen=True)
class Digit:
    at: datetime
    digit: str


@dataclass(frozen=True)
class Speech:
    at: datetime
    text: str
    confidence: float
    engine: str
    turn: int


@dataclass(frozen=True)
class SpeechBegan:
    at: datetime
    turn: int


@dataclass(frozen=True)
class PlaybackDone:
    at: datetime
    playback_id: str


@dataclass(frozen=True)
class LookupDone:
    at: datetime
    result: ie.LookupResult


@dataclass(frozen=True)
class TimerFired:
    at: datetime
    name: str
    turn: int = -1


@dataclass(frozen=True)
class CallerGone:
    at: datetime


SessionInput = (Started | Adopted | AnswerDone | Digit | Speech | SpeechBegan | PlaybackDone
                | LookupDone | TimerFired | CallerGone)


# --- commands (to the adapter) -----------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    channel_id: str


@dataclass(frozen=True)
class PlayPrompts:
    """Play IVR prompts in order as one playback; the adapter maps each to a rendered file."""

    channel_id: str
    playback_id: str
    prompts: tuple[ic.PromptRef, ...]


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True)
class StartListening:
    channel_id: str
    phrases: tuple[str, ...]
    language: str
    turn: int


@dataclass(frozen=True)
class StopListening:
    channel_id: str


@dataclass(frozen=True)
class LookupRequest:
    channel_id: str
    lookup: ic.Lookup


@dataclass(frozen=True)
class EnqueueCall:
    channel_id: str
    request: ic.Enqueue
    caller_number: str
    caller_name: str
    ivr_path: tuple[str, ...] = ()  # "node:input" steps, for the consultant's screen-pop
    transcript: str = ""  # what the caller said to the IVR


@dataclass(frozen=True)
class LeaveAcd:
    """The caller hung up after the IVR handed the call over."""

    channel_id: str


@dataclass(frozen=True)
class AcdDigit:
    """A key pressed while waiting in a queue (e.g. accepting a callback offer)."""

    channel_id: str
    digit: str


@dataclass(frozen=True)
class RegisterCallback:
    channel_id: str
    request: ic.OfferCallback


@dataclass(frozen=True)
class Hangup:
    channel_id: str
    reason: str = "normal"


@dataclass(frozen=True)
class SetVar:
    channel_id: str
    name: str
    value: str


@dataclass(frozen=True)
class ArmTimer:
    name: str
    seconds: float
    turn: int = -1


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class Publish:
    event: domain.DomainEvent


Command = (Answer | PlayPrompts | StopPlayback | StartListening | StopListening | LookupRequest
           | EnqueueCall | LeaveAcd | AcdDigit | RegisterCallback | Hangup | SetVar | ArmTimer
           | CancelTimer | Publish)


@dataclass
class CallSession:
    script: Script
    persist: bool = True  # write recovery vars to the channel (off for the benchmark flow)
    state: CallState = CallState.NEW
    channel_id: str = ""
    caller_number: str = ""
    caller_name: str = ""
    ivr: interpreter.CallState | None = None
    playback_id: str = ""  # the playback in progress, if any
    playback_turns: dict[str, int] = field(default_factory=dict)
    playbacks: int = 0
    input_turn: int | None = None  # the turn whose input we wait for
    input_timeout_s: float = 0.0
    listening: bool = False
    speaking_turn: int | None = None  # the caller started speaking during this turn
    digits: list[str] = field(default_factory=list)
    queue_request: ic.Enqueue | None = None
    path: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    answered_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    # --- entry point -------------------------------------------------------------------------
    def handle(self, item: SessionInput) -> list[Command]:
        match item:
            case Started():
                return self._start(item)
            case Adopted():
                return self._adopt(item)
            case CallerGone():
                return self._caller_gone(item)
        if self.state in (CallState.NEW, CallState.ENDED):
            self.notes.append(f"{type(item).__name__} ignored in state {self.state}")
            return []
        match item:
            case AnswerDone():
                self.answered_at = item.at
                return [Publish(domain.CallAnswered(call_id=self.channel_id, at=item.at))]
            case Digit():
                return self._digit(item)
        if self.state is not CallState.IVR:
            return []
        match item:
            case PlaybackDone():
                return self._playback_done(item)
            case Speech():
                return self._ivr(ie.SpeechResult(item.text, item.confidence, item.engine,
                                                 at=item.at, turn=item.turn))
            case SpeechBegan():
                if item.turn == self.input_turn:
                    self.speaking_turn = item.turn
                return self._ivr(ie.SpeechStarted(at=item.at, turn=item.turn))
            case LookupDone():
                return self._ivr(item.result)
            case TimerFired():
                if item.name == "input" and item.turn == self.input_turn:
                    self.input_turn = None
                    return self._ivr(ie.Timeout(turn=item.turn, at=item.at))
        return []

    # --- start and adoption ------------------------------------------------------------------
    def _start(self, item: Started) -> list[Command]:
        if self.state is not CallState.NEW:
            self.notes.append("duplicate start ignored")
            return []
        self.channel_id = item.channel_id
        self.caller_number = item.caller_number
        self.caller_name = item.caller_name
        self.started_at = item.at
        self.state = CallState.IVR
        self.ivr, ivr_cmds = interpreter.start(self.script, ie.CallStarted(
            caller_number=item.caller_number, at=item.at, call_id=item.channel_id))
        out: list[Command] = [
            Publish(domain.CallStarted(
                call_id=item.channel_id, at=item.at, caller_number=item.caller_number,
                caller_name=item.caller_name, dialed=item.dialed, channel_name=item.channel_name,
            )),
            Answer(item.channel_id),
        ]
        if self.persist:
            out.append(SetVar(self.channel_id, STATE_VAR, CallState.IVR.value))
        return out + self._apply(ivr_cmds, before_node="")

    def _adopt(self, item: Adopted) -> list[Command]:
        if self.state is not CallState.NEW:
            return []
        self.channel_id = item.channel_id
        self.caller_number = item.caller_number
        self.caller_name = item.caller_name
        self.started_at = item.at
        self.notes.append(f"adopted in saved state {item.saved_state or 'unknown'}")
        if item.saved_state == CallState.QUEUED.value and item.saved_queue:
            try:
                request = ic.Enqueue(**_loads(item.saved_queue, "queue"))
            except (TypeError, ValueError) as exc:
                self.notes.append(f"saved queue request unreadable ({exc}); back to the IVR")
            else:
                self.state = CallState.QUEUED
                self.queue_request = request
                return [EnqueueCall(self.channel_id, request, self.caller_number,
                                    self.caller_name)]
        if item.saved_state in (CallState.ENDING.value, CallState.ENDED.value):
            self.state = CallState.IVR
            return self._end_call("adopted while ending")
        snapshot: dict[str, Any] = {}
        if item.saved_ivr:
            try:
                snapshot = _loads(item.saved_ivr, "ivr")
            except ValueError as exc:
                self.notes.append(str(exc))
        if snapshot.get("version") not in (None, self.script.version):
            self.notes.append(f"saved script version {snapshot.get('version')} differs from "
                              f"{self.script.version}; resuming at the same node name")
        self.state = CallState.IVR
        # Resume re-enters the node: the caller hears its prompt again, which is what a person
        # who just heard silence for a second needs anyway.
        self.ivr, ivr_cmds = interpreter.resume(self.script, {**snapshot, "call_id": self.channel_id},
                                                item.at)
        return self._apply(ivr_cmds, before_node="")

    # --- inputs while in the IVR -------------------------------------------------------------
    def _digit(self, item: Digit) -> list[Command]:
        self.digits.append(item.digit)
        out: list[Command] = [
            Publish(domain.DtmfReceived(call_id=self.channel_id, at=item.at, digit=item.digit))
        ]
        if self.state is CallState.IVR:
            out += self._ivr(ie.Digit(item.digit, at=item.at))
        elif self.state is CallState.QUEUED:
            out.append(AcdDigit(self.channel_id, item.digit))
        return out

    def _playback_done(self, item: PlaybackDone) -> list[Command]:
        turn = self.playback_turns.pop(item.playback_id, None)
        if turn is None:
            return []
        if item.playback_id == self.playback_id:
            self.playback_id = ""
        return self._ivr(ie.PromptFinished(turn=turn, at=item.at))

    def _ivr(self, event: ie.IvrEvent) -> list[Command]:
        if self.ivr is None:
            return []
        before = self.ivr.node
        try:
            self.ivr, cmds = interpreter.step(self.ivr, event)
        except interpreter.IllegalEvent as exc:
            self.notes.append(str(exc))
            return []
        return self._apply(cmds, before_node=before)

    # --- IVR commands → call commands --------------------------------------------------------
    def _apply(self, cmds: list[ic.IvrCommand], before_node: str) -> list[Command]:
        out: list[Command] = []
        steps_before = len(self.path)
        for cmd in cmds:
            match cmd:
                case ic.RecordStep():
                    out.append(Publish(cmd.to_event(self.channel_id, self._now())))
                    shown = f"{cmd.node}:{cmd.input_value}" if cmd.input_value else cmd.node
                    self.path.append(shown)
                    if cmd.input_kind == "speech" and cmd.input_value:
                        self.transcript.append(cmd.input_value)
                case ic.Play():
                    self.playbacks += 1
                    self.playback_id = f"{self.channel_id}-pb{self.playbacks}"
                    self.playback_turns[self.playback_id] = cmd.turn
                    out.append(PlayPrompts(self.channel_id, self.playback_id, cmd.prompts))
                case ic.StopPlayback():
                    if self.playback_id:
                        out.append(StopPlayback(self.playback_id))
                        self.playback_turns.pop(self.playback_id, None)
                        self.playback_id = ""
                case ic.Listen():
                    self.input_turn, self.input_timeout_s = cmd.turn, cmd.timeout_s
                    self.listening = True
                    out.append(StartListening(self.channel_id, cmd.phrases, cmd.language,
                                              cmd.turn))
                case ic.StopListening():
                    if self.listening:
                        self.listening = False
                        out.append(StopListening(self.channel_id))
                case ic.CollectDigits():
                    self.input_turn, self.input_timeout_s = cmd.turn, cmd.timeout_s
                case ic.Lookup():
                    out.append(LookupRequest(self.channel_id, cmd))
                case ic.Enqueue():
                    out += self._enqueue(cmd)
                case ic.OfferCallback():
                    out.append(RegisterCallback(self.channel_id, cmd))
                case ic.Hangup():
                    out += self._end_call(cmd.reason)
        out += self._input_timer()
        if self.persist and self.ivr is not None and self.state is CallState.IVR \
                and self.ivr.node != before_node:
            out.append(SetVar(self.channel_id, IVR_VAR, json.dumps(
                self.ivr.snapshot(), ensure_ascii=False, separators=(",", ":"))))
        if self.persist and len(self.path) != steps_before:
            path = SetVar(self.channel_id, PATH_VAR, json.dumps(self.path, ensure_ascii=False))
            # Before a hang-up: the last step must be on the channel while it still exists.
            at = next((i for i, c in enumerate(out) if isinstance(c, Hangup)), len(out))
            out.insert(at, path)
        return out

    def _input_timer(self) -> list[Command]:
        """(Re)arm the no-input timer when a wait is open and no prompt of its turn plays."""
        if self.ivr is None or self.state is not CallState.IVR:
            return [CancelTimer("input")]
        if self.input_turn is None or self.input_turn != self.ivr.turn:
            self.input_turn = None
            return [CancelTimer("input")]
        if self.playback_id and self.playback_turns.get(self.playback_id) == self.input_turn:
            return []  # starts when this prompt has finished
        if self.speaking_turn == self.input_turn:
            return [ArmTimer("input", max(self.input_timeout_s, SPEECH_RESULT_GRACE_S),
                             self.input_turn)]
        return [ArmTimer("input", self.input_timeout_s, self.input_turn)]

    def _enqueue(self, cmd: ic.Enqueue) -> list[Command]:
        self.state = CallState.QUEUED
        self.queue_request = cmd
        self.input_turn = None
        out: list[Command] = []
        if self.listening:
            self.listening = False
            out.append(StopListening(self.channel_id))
        out.append(Publish(domain.CallQueued(call_id=self.channel_id, at=self._now(),
                                             queue=cmd.queue, category=cmd.category,
                                             priority=cmd.priority,
                                             language=cmd.language)))
        if self.persist:
            out += [SetVar(self.channel_id, QUEUE_VAR, json.dumps({
                        "queue": cmd.queue, "skills": list(cmd.skills), "priority": cmd.priority,
                        "category": cmd.category, "language": cmd.language}, ensure_ascii=False)),
                    SetVar(self.channel_id, STATE_VAR, CallState.QUEUED.value)]
        out.append(EnqueueCall(self.channel_id, cmd, self.caller_number, self.caller_name,
                               tuple(self.path), " / ".join(self.transcript)))
        return out

    def _end_call(self, why: str) -> list[Command]:
        if self.state in (CallState.ENDING, CallState.ENDED):
            return []
        self.notes.append(f"hanging up: {why}")
        self.state = CallState.ENDING
        out: list[Command] = [CancelTimer("input")]
        if self.listening:
            self.listening = False
            out.append(StopListening(self.channel_id))
        if self.persist:
            out.append(SetVar(self.channel_id, STATE_VAR, CallState.ENDING.value))
        return [*out, Hangup(self.channel_id)]

    def _caller_gone(self, item: CallerGone) -> list[Command]:
        if self.state is CallState.ENDED or not self.channel_id:
            return []
        reason = "system_hangup" if self.state is CallState.ENDING else "caller_hangup"
        out: list[Command] = [CancelTimer("input")]
        if self.state is CallState.QUEUED:
            reason = "caller_hangup_in_queue"
            out.append(LeaveAcd(self.channel_id))
        if self.listening:
            self.listening = False
            out.append(StopListening(self.channel_id))
        if self.ivr is not None and not self.ivr.ended and self.state is CallState.IVR:
            self.ivr, cmds = interpreter.step(self.ivr, ie.CallerHangup(at=item.at))
            out += [Publish(c.to_event(self.channel_id, item.at)) for c in cmds
                    if isinstance(c, ic.RecordStep)]
        self.state = CallState.ENDED
        out.append(Publish(domain.CallEnded(call_id=self.channel_id, at=item.at, reason=reason)))
        return out

    def _now(self) -> datetime:
        now = self.ivr.now if self.ivr is not None else None
        assert now is not None or self.started_at is not None
        return now or self.started_at  # type: ignore[return-value]


def _loads(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"saved {what} state is not JSON: {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise ValueError(f"saved {what} state is not an object")
    if what == "queue" and isinstance(data.get("skills"), list):
        data["skills"] = tuple(data["skills"])
    return data
