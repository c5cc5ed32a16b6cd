"""Domain events: what happened to a call, in the center's words, not Asterisk's.

Published on the in-process bus by pbx/ (and cti/), consumed by the CRM recorder (through the
outbox), the CTI hub and metrics. Frozen, JSON-friendly (see `to_dict` / `from_dict`) so that
the outbox can journal them and replay them after a crash. `call_id` is the Asterisk channel id
of the caller's leg: unique, and known to Asterisk, so a restarted controller finds it again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class DomainEvent:
    kind: ClassVar[str] = "event"
    call_id: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return data


@dataclass(frozen=True)
class CallStarted(DomainEvent):
    kind: ClassVar[str] = "call_started"
    caller_number: str
    caller_name: str
    dialed: str
    channel_name: str


@dataclass(frozen=True)
class CallAnswered(DomainEvent):
    kind: ClassVar[str] = "call_answered"


@dataclass(frozen=True)
class DtmfReceived(DomainEvent):
    kind: ClassVar[str] = "dtmf_received"
    digit: str


@dataclass(frozen=True)
class PromptPlayed(DomainEvent):
    kind: ClassVar[str] = "prompt_played"
    media: str


@dataclass(frozen=True)
class IvrStep(DomainEvent):
    """One decision of the IVR: the node left, what the caller did, where the call went."""

    kind: ClassVar[str] = "ivr_step"
    script: str
    version: str
    node: str
    input_kind: str  # dtmf | speech | timeout | none
    input_value: str
    confidence: float | None
    next_node: str


@dataclass(frozen=True)
class CallQueued(DomainEvent):
    kind: ClassVar[str] = "call_queued"
    queue: str
    category: str
    priority: int
    language: str = ""  # the IVR's language when it queued the call ("" from older journals)


@dataclass(frozen=True)
class CallOffered(DomainEvent):
    kind: ClassVar[str] = "call_offered"
    queue: str
    agent: str


@dataclass(frozen=True)
class AgentConnected(DomainEvent):
    kind: ClassVar[str] = "agent_connected"
    queue: str
    agent: str
    wait_s: float


@dataclass(frozen=True)
class CallTransferred(DomainEvent):
    kind: ClassVar[str] = "call_transferred"
    target: str


@dataclass(frozen=True)
class CallEnded(DomainEvent):
    kind: ClassVar[str] = "call_ended"
    reason: str  # caller_hangup | system_hangup | abandoned | transferred_out | error


@dataclass(frozen=True)
class CallLeftQueue(DomainEvent):
    """The ACD took a caller out of `queue` without an agent from it (published by cti/):
    abandoned | abandoned_after_transfer | overflow | full | no_agents. The reports count
    abandoned calls from this, as the wallboard does."""

    kind: ClassVar[str] = "call_left_queue"
    queue: str
    reason: str
    waited_s: float


@dataclass(frozen=True)
class CallHeld(DomainEvent):
    """The consultant put the caller on hold (held) or took them off it (published by cti/)."""

    kind: ClassVar[str] = "call_held"
    agent: str
    held: bool


@dataclass(frozen=True)
class AgentStateChanged(DomainEvent):
    """An agent's state (published by cti/): an agent's fact, not a call's, so `call_id` is the
    agent's call when there is one and "" otherwise; the CRM keeps these in agent_state_log."""

    kind: ClassVar[str] = "agent_state"
    agent: str
    state: str  # offline | available | reserved | on_call | wrap_up | paused
    reason: str


@dataclass(frozen=True)
class CallDispositioned(DomainEvent):
    """The consultant's wrap-up ended (published by cti/): with a disposition code, or with
    "" when its timer ran out first (the wrap-up still counts in the handling time)."""

    kind: ClassVar[str] = "call_dispositioned"
    agent: str
    disposition: str
    notes: str


@dataclass(frozen=True)
class CallRecorded(DomainEvent):
    """The call's bridge is being recorded; `ref` names the recording (ARI stored recording)."""

    kind: ClassVar[str] = "call_recorded"
    ref: str


@dataclass(frozen=True)
class CallbackRequested(DomainEvent):
    """A resident asked to be called back (while waiting, or scheduled by a consultant);
    `call_id` is the call they asked from (or the callback's own id when scheduled)."""

    kind: ClassVar[str] = "callback_requested"
    queue: str
    number: str


@dataclass(frozen=True)
class CallbackAttempted(DomainEvent):
    """The ACD dialled the resident for a consultant: reached or not; `final` when no
    attempt follows (reached, or the queue's attempts are used up)."""

    kind: ClassVar[str] = "callback_attempted"
    agent: str
    reached: bool
    attempt: int
    final: bool


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.kind: cls
    for cls in (CallStarted, CallAnswered, DtmfReceived, PromptPlayed, IvrStep, CallQueued,
                CallOffered, AgentConnected, CallTransferred, CallEnded, CallDispositioned,
                CallRecorded, CallbackRequested, CallbackAttempted, CallLeftQueue, CallHeld,
                AgentStateChanged)
}


def from_dict(data: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from `to_dict` output; raises ValueError naming what is wrong."""
    kind = data.get("kind")
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown domain event kind {kind!r}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is not dataclasses.MISSING:  # a field added later: older journals
                continue
            raise ValueError(f"{kind}: missing field {f.name!r}")
        value = data[f.name]
        kwargs[f.name] = datetime.fromisoformat(value) if f.name == "at" else value
    return cls(**kwargs)
