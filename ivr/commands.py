"""What the interpreter asks the executor (pbx/) to do. Frozen; executed in order.

Waits: after `Play` the executor sends `PromptFinished(turn)`; after `Listen` / `CollectDigits`
it starts the no-input timer when the prompt has finished (at once if nothing plays) and sends
`Timeout(turn)` when it runs out — restarted by each digit. `Lookup` is answered by
`LookupResult(turn)`, also on failure (ok=False) — bound it (2 s) so the caller never waits long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ground.events import IvrStep


@dataclass(frozen=True)
class PromptRef:
    """One prompt to play: `key` identifies it in the PromptCatalog (text+voice → file)."""

    id: str  # node.slot.language, e.g. "main.prompt.pl"
    text: str  # final text (templates filled); empty when `file` is given
    language: str
    voice: str
    file: str | None = None  # a recorded file instead of TTS


@dataclass(frozen=True)
class Play:
    prompts: tuple[PromptRef, ...]
    barge_in: bool
    turn: int


@dataclass(frozen=True)
class StopPlayback:
    turn: int


@dataclass(frozen=True)
class Listen:
    """Stream the caller's audio to the recogniser of `language` with `phrases` as grammar."""

    phrases: tuple[str, ...]
    language: str
    timeout_s: float
    turn: int


@dataclass(frozen=True)
class StopListening:
    turn: int


@dataclass(frozen=True)
class CollectDigits:
    max_digits: int
    terminator: str | None
    timeout_s: float
    turn: int


@dataclass(frozen=True)
class Lookup:
    kind: str  # case_status | open_cases
    key: str  # the case number, or the caller's number
    turn: int


@dataclass(frozen=True)
class Enqueue:
    """Hand the call to the ACD; the IVR is done with this call."""

    queue: str
    skills: tuple[str, ...]
    priority: int
    category: str
    language: str


@dataclass(frozen=True)
class OfferCallback:
    """The caller accepted a call back: register it; the IVR then goes on (usually hangs up)."""

    queue: str
    number: str
    category: str
    language: str


@dataclass(frozen=True)
class Hangup:
    reason: str


@dataclass(frozen=True)
class RecordStep:
    """One decision, for the `IvrStep` domain event (and the interaction record)."""

    script: str
    version: str
    node: str
    input_kind: str  # dtmf | speech | timeout | none
    input_value: str
    confidence: float | None
    engine: str
    next_node: str

    def to_event(self, call_id: str, at: datetime) -> IvrStep:
        return IvrStep(call_id=call_id, at=at, script=self.script, version=self.version,
                       node=self.node, input_kind=self.input_kind, input_value=self.input_value,
                       confidence=self.confidence, next_node=self.next_node)


IvrCommand = (Play | StopPlayback | Listen | StopListening | CollectDigits | Lookup | Enqueue
              | OfferCallback | Hangup | RecordStep)
