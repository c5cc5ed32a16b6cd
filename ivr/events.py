"""What the executor (pbx/) tells the interpreter. Frozen; built once at the edge.

`turn` ties an event to the wait it answers: every command that starts a wait (Play, Listen,
CollectDigits, Lookup) carries the state's current turn, and an event whose turn is not the
current one is stale (a late PromptFinished after barge-in, a timer that fired after the key
press) and is ignored. Events built without a turn (None) always apply.
`at` is the wall-clock time of the event; the interpreter never reads a clock itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CallStarted:
    caller_number: str
    at: datetime  # aware datetime; branch nodes read the time of day from it
    call_id: str = ""
    language: str | None = None  # e.g. from the dialed number; None: the script's default


@dataclass(frozen=True)
class Digit:
    digit: str  # one of 0-9 * #
    at: datetime | None = None
    turn: int | None = None


@dataclass(frozen=True)
class SpeechStarted:
    """Voice activity detected: stops a barge-in prompt before the result is known."""

    at: datetime | None = None
    turn: int | None = None


@dataclass(frozen=True)
class SpeechResult:
    text: str
    confidence: float  # 0..1 from the recogniser
    engine: str  # "vosk", "whisper", "simulated"...
    at: datetime | None = None
    turn: int | None = None


@dataclass(frozen=True)
class Timeout:
    """The wait of `turn` ran out (no input, or no more digits)."""

    turn: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class PromptFinished:
    turn: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class LookupResult:
    kind: str  # case_status | open_cases
    ok: bool  # False: the CRM did not answer in time or failed
    found: bool = False
    values: Mapping[str, str] = field(default_factory=dict)
    turn: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class CallerHangup:
    at: datetime | None = None


IvrEvent = (CallStarted | Digit | SpeechStarted | SpeechResult | Timeout | PromptFinished
            | LookupResult | CallerHangup)
