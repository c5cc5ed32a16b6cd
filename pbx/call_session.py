"""One call's life, as a pure state machine: `CallSession.handle(input) -> list[Command]`.

Rules: no I/O and no clock of its own — every input carries its time; the adapter
(`pbx.controller`) executes the commands in order and feeds back what happened. An input that
makes no sense in the current state is ignored with a note in `self.notes` (ARI delivers
stragglers after hang-ups), never an exception that could take a call down.

What survives a controller restart is written to the channel itself (`SetVar CKM_STATE`), so a
new controller that finds the channel still in Stasis can `adopt` it and carry on.

The flow here is the foundation's: answer, play the greeting, log DTMF, hang up after a quiet
period (or, for the benchmark, right after the greeting).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from ckm import events as domain

STATE_VAR = "CKM_STATE"


class CallState(enum.StrEnum):
    NEW = "new"
    GREETING = "greeting"  # answered, greeting playing
    WAITING = "waiting"  # greeting done, listening for keys until the idle timer fires
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
    """A channel found in our Stasis app after a reconnect or restart."""

    at: datetime
    channel_id: str
    channel_name: str
    caller_number: str
    caller_name: str
    saved_state: str


@dataclass(frozen=True)
class AnswerDone:
    at: datetime


@dataclass(frozen=True)
class Digit:
    at: datetime
    digit: str


@dataclass(frozen=True)
class PlaybackDone:
    at: datetime
    playback_id: str


@dataclass(frozen=True)
class TimerFired:
    at: datetime
    name: str


@dataclass(frozen=True)
class CallerGone:
    at: datetime


SessionInput = Started | Adopted | AnswerDone | Digit | PlaybackDone | TimerFired | CallerGone


# --- commands (to the adapter) -----------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    channel_id: str


@dataclass(frozen=True)
class Play:
    channel_id: str
    playback_id: str
    media: str


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


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


@dataclass(frozen=True)
class Publish:
    event: domain.DomainEvent


Command = Answer | Play | StopPlayback | Hangup | SetVar | ArmTimer | Publish


@dataclass(frozen=True)
class FlowConfig:
    greeting: str  # ARI media URI
    idle_hangup_s: float
    hangup_after_greeting: bool = False  # the benchmark's flow: answer, prompt, hang up
    persist_state: bool = True


@dataclass
class CallSession:
    config: FlowConfig
    state: CallState = CallState.NEW
    channel_id: str = ""
    caller_number: str = ""
    caller_name: str = ""
    playback_id: str = ""
    playbacks: int = 0
    digits: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    answered_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

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
            case PlaybackDone():
                return self._playback_done(item)
            case TimerFired():
                return self._timer(item)
        return []

    # --- transitions ---------------------------------------------------------------------
    def _enter(self, state: CallState) -> list[Command]:
        self.state = state
        if not self.config.persist_state or state in (CallState.ENDED,):
            return []
        return [SetVar(self.channel_id, STATE_VAR, state.value)]

    def _next_playback_id(self) -> str:
        self.playbacks += 1
        return f"{self.channel_id}-pb{self.playbacks}"

    def _start(self, item: Started) -> list[Command]:
        if self.state is not CallState.NEW:
            self.notes.append("duplicate start ignored")
            return []
        self.channel_id = item.channel_id
        self.caller_number = item.caller_number
        self.caller_name = item.caller_name
        self.started_at = item.at
        self.playback_id = self._next_playback_id()
        return [
            Publish(domain.CallStarted(
                call_id=item.channel_id, at=item.at, caller_number=item.caller_number,
                caller_name=item.caller_name, dialed=item.dialed, channel_name=item.channel_name,
            )),
            Answer(item.channel_id),
            *self._enter(CallState.GREETING),
            Play(item.channel_id, self.playback_id, self.config.greeting),
        ]

    def _adopt(self, item: Adopted) -> list[Command]:
        if self.state is not CallState.NEW:
            return []
        self.channel_id = item.channel_id
        self.caller_number = item.caller_number
        self.caller_name = item.caller_name
        self.started_at = item.at
        self.notes.append(f"adopted in saved state {item.saved_state or 'unknown'}")
        if item.saved_state in (CallState.ENDING.value, CallState.ENDED.value):
            return self._end_call("adopted_ending")
        # The greeting may have been cut by the restart; the caller is now listening for a
        # reaction, so restart the quiet timer rather than replaying from the top.
        return [*self._enter(CallState.WAITING), ArmTimer("idle", self.config.idle_hangup_s)]

    def _digit(self, item: Digit) -> list[Command]:
        self.digits.append(item.digit)
        commands: list[Command] = [
            Publish(domain.DtmfReceived(call_id=self.channel_id, at=item.at, digit=item.digit))
        ]
        if self.state is CallState.WAITING:
            commands.append(ArmTimer("idle", self.config.idle_hangup_s))
        return commands

    def _playback_done(self, item: PlaybackDone) -> list[Command]:
        if item.playback_id != self.playback_id or self.state is not CallState.GREETING:
            return []
        commands: list[Command] = [
            Publish(domain.PromptPlayed(call_id=self.channel_id, at=item.at,
                                        media=self.config.greeting))
        ]
        if self.config.hangup_after_greeting:
            return commands + self._end_call("flow_done")
        return commands + self._enter(CallState.WAITING) + [
            ArmTimer("idle", self.config.idle_hangup_s)
        ]

    def _timer(self, item: TimerFired) -> list[Command]:
        if item.name == "idle" and self.state is CallState.WAITING:
            return self._end_call("idle")
        return []

    def _end_call(self, why: str) -> list[Command]:
        self.notes.append(f"hanging up: {why}")
        return [*self._enter(CallState.ENDING), Hangup(self.channel_id)]

    def _caller_gone(self, item: CallerGone) -> list[Command]:
        if self.state is CallState.ENDED or not self.channel_id:
            return []
        reason = "system_hangup" if self.state is CallState.ENDING else "caller_hangup"
        self.state = CallState.ENDED
        return [Publish(domain.CallEnded(call_id=self.channel_id, at=item.at, reason=reason))]
