"""A notification call from 19115, the pure core: events in, commands out.

The dispatcher (`crm_core.notifications.call_dispatcher`) asks for a call; the adapter
(`pbx.notify_dial`) dials the resident and feeds this machine what Asterisk reports.

    DIALLING --answered--> PLAYING --message played--> MENU --key 1 / no key--> PLAYING
        |                     |  \\--key 0--> TO_CONSULTANT        |--key 0--> TO_CONSULTANT
        |                     |                                   \\--no key, plays used--> CLOSING
        \\--hung up: not answered--> ENDED        CLOSING --goodbye played--> ENDED (hang up)

Rules:
- The outcome is reported once: `delivered` the moment the resident answers (a call answered
  is a message delivered, see `crm_core.notifications.calls`), otherwise the reason the call
  was not answered (Asterisk's hang-up cause, in words: busy, no answer, congestion...).
  Nothing after the answer changes it.
- Answered: the message is played, then the menu "press 1 to hear it again, 0 for a
  consultant". Keys count at any moment after the answer, also during a prompt (a resident
  who knows what they want need not wait for the end): 1 plays the message again from its
  start, 0 hands the call to the ACD's queue with the case as its context. Other keys are
  ignored.
- No key within `menu_wait_s` after the menu: the message and menu are played again, up to
  `plays` times in all; then a goodbye, and the center hangs up. Repeats asked for with 1 are
  not limited by `plays` but by `max_plays` (a stuck key must not keep a line forever).
- Once in the ACD the call is the ACD's: keys go to it (a callback offer while waiting) and
  the resident's hang-up is told to it; this machine only forwards.
- A playback or timer event that is not the current one (a prompt cut short by a key, a timer
  of an earlier menu) is ignored.
- A call an earlier controller handed to the ACD, found after a restart, starts in
  TO_CONSULTANT (`NotifyCall.adopted`): its outcome was reported then; it only forwards.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ivr.commands import PromptRef


class Phase(enum.Enum):
    DIALLING = "dialling"
    PLAYING = "playing"
    MENU = "menu"
    CLOSING = "closing"
    TO_CONSULTANT = "to_consultant"
    ENDED = "ended"


# --- events in


@dataclass(frozen=True)
class Answered:
    pass


@dataclass(frozen=True)
class HungUp:
    cause: int = 16
    cause_txt: str = ""


@dataclass(frozen=True)
class PlaybackDone:
    playback_id: str


@dataclass(frozen=True)
class Digit:
    digit: str


@dataclass(frozen=True)
class TimerFired:
    name: str
    turn: int


Event = Answered | HungUp | PlaybackDone | Digit | TimerFired


# --- commands out


@dataclass(frozen=True)
class Report:
    """The outcome for the outbox: delivered, or why not."""

    delivered: bool
    error: str = ""


@dataclass(frozen=True)
class Play:
    playback_id: str
    prompts: tuple[PromptRef, ...]


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True)
class ArmTimer:
    name: str
    seconds: float
    turn: int


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class ToConsultant:
    """Hand the call to the ACD's queue (the adapter enqueues it as the IVR would)."""

    queue: str
    language: str


@dataclass(frozen=True)
class AcdDigit:
    digit: str


@dataclass(frozen=True)
class LeaveAcd:
    pass


@dataclass(frozen=True)
class Hangup:
    pass


Command = Report | Play | StopPlayback | ArmTimer | CancelTimer | ToConsultant | AcdDigit | LeaveAcd | Hangup

MENU_TIMER = "menu"

# Q.850 hang-up causes of a call that was not answered, in words for the supervisors' list.
_CAUSES = {1: "no such number", 3: "no route to the number", 17: "busy", 18: "no answer",
           19: "no answer", 20: "phone unreachable", 21: "call rejected", 27: "phone unreachable",
           34: "network congestion", 38: "network out of order", 42: "network congestion"}


def not_answered(cause: int, text: str) -> str:
    """"not answered: busy (User busy, cause 17)"."""
    words = _CAUSES.get(cause, "hung up before the answer")
    return f"not answered: {words} ({text or 'no reason given'}, cause {cause})"


@dataclass(frozen=True)
class CallScript:
    """What the call says, in the resident's language."""

    message: PromptRef
    menu: PromptRef
    goodbye: PromptRef
    connecting: PromptRef
    language: str
    queue: str
    plays: int = 2
    max_plays: int = 5
    menu_wait_s: float = 6.0


class NotifyCall:
    def __init__(self, script: CallScript, call_id: str) -> None:
        self.script = script
        self.call_id = call_id
        self.phase = Phase.DIALLING
        self.plays = 0  # times the message was started
        self.heard = False  # the message played to its end at least once
        self.handed_over = False  # the resident pressed 0: the call went to the ACD
        self.reported: Report | None = None
        self._playback = ""
        self._turn = 0
        self._seq = 0

    @classmethod
    def adopted(cls, script: CallScript, call_id: str) -> NotifyCall:
        core = cls(script, call_id)
        core.phase, core.handed_over, core.reported = Phase.TO_CONSULTANT, True, Report(True)
        return core

    def handle(self, event: Event) -> list[Command]:
        if self.phase is Phase.ENDED:
            return []
        match event:
            case Answered():
                return self._answered()
            case HungUp(cause=cause, cause_txt=text):
                return self._hung_up(cause, text)
            case PlaybackDone(playback_id=pid):
                return self._played(pid)
            case Digit(digit=digit):
                return self._digit(digit)
            case TimerFired(name=name, turn=turn):
                return self._timer(name, turn)
        return []

    # --- transitions --------------------------------------------------------------------
    def _answered(self) -> list[Command]:
        if self.phase is not Phase.DIALLING:
            return []
        report = self.reported = Report(True)
        return [report, *self._play_message()]

    def _hung_up(self, cause: int, text: str) -> list[Command]:
        was = self.phase
        self.phase = Phase.ENDED
        out: list[Command] = [CancelTimer(MENU_TIMER)]
        if was is Phase.DIALLING:
            report = self.reported = Report(False, not_answered(cause, text))
            return [report]
        if was is Phase.TO_CONSULTANT:
            out.append(LeaveAcd())
        return out

    def _played(self, pid: str) -> list[Command]:
        if pid != self._playback:
            return []
        self._playback = ""
        if self.phase is Phase.PLAYING:
            self.heard = True
            self.phase = Phase.MENU
            return [self._play(self.script.menu)]
        if self.phase is Phase.MENU:
            self._turn += 1
            return [ArmTimer(MENU_TIMER, self.script.menu_wait_s, self._turn)]
        if self.phase is Phase.CLOSING:
            self.phase = Phase.ENDED
            return [Hangup()]
        return []

    def _digit(self, digit: str) -> list[Command]:
        if self.phase is Phase.TO_CONSULTANT:
            return [AcdDigit(digit)]
        if self.phase not in (Phase.PLAYING, Phase.MENU, Phase.CLOSING) or digit not in "01":
            return []
        out: list[Command] = [CancelTimer(MENU_TIMER)]
        if self._playback:
            out.append(StopPlayback(self._playback))
            self._playback = ""
        if digit == "0":
            self.phase = Phase.TO_CONSULTANT
            self.handed_over = True
            return [*out, self._play(self.script.connecting),
                    ToConsultant(self.script.queue, self.script.language)]
        if self.plays >= self.script.max_plays:
            return [*out, *self._close()]
        return [*out, *self._play_message()]

    def _timer(self, name: str, turn: int) -> list[Command]:
        if name != MENU_TIMER or turn != self._turn or self.phase is not Phase.MENU:
            return []
        if self.plays < self.script.plays:
            return self._play_message()
        return self._close()

    # --- helpers -----------------------------------------------------------------------------
    def _play_message(self) -> list[Command]:
        self.phase = Phase.PLAYING
        self.plays += 1
        return [self._play(self.script.message)]

    def _close(self) -> list[Command]:
        self.phase = Phase.CLOSING
        return [self._play(self.script.goodbye)]

    def _play(self, prompt: PromptRef) -> Play:
        self._seq += 1
        self._playback = f"{self.call_id}-p{self._seq}"[:120]
        return Play(self._playback, (prompt,))
