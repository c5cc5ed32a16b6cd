"""What the ACD is told: events from the pbx adapter, the consultants' desktops and the clock.

Rules: frozen dataclasses, each with the moment it happened (`at`, timezone-aware). The core never
reads a clock; `Tick` is how time passes. Events from pbx/ describe what Asterisk did; events from
desktops describe what a person asked for (the hub checks rights before they get here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cti.config import (
    EMPTY_CONTEXT,
    AgentProfile,
    CallContext,
    Caller,
    QueueConfig,
    SkillRequirement,
)


@dataclass(frozen=True)
class AcdEvent:
    at: datetime


# --- configuration and the clock -------------------------------------------------------------


@dataclass(frozen=True)
class QueueConfigured(AcdEvent):
    """A queue was created or edited. Waiting callers keep their place."""

    config: QueueConfig


@dataclass(frozen=True)
class Tick(AcdEvent):
    """Time passed: ring timeouts, wrap-up timers, announcements, overflow, callbacks due."""


# --- from the pbx adapter ----------------------------------------------------------------------


@dataclass(frozen=True)
class CallEnqueued(AcdEvent):
    """The IVR sent the caller (channel `call_id`, answered, in Stasis) to `queue`."""

    call_id: str
    queue: str
    caller: Caller
    priority: int = 0  # higher is served first
    skills: tuple[SkillRequirement, ...] = ()  # on top of the queue's own requirements
    context: CallContext = EMPTY_CONTEXT


@dataclass(frozen=True)
class CallerHungUp(AcdEvent):
    """The caller's channel is gone (in queue: abandoned; connected: call ends)."""

    call_id: str


class DeclineReason(StrEnum):
    BUSY = "busy"
    UNREACHABLE = "unreachable"  # endpoint not registered, originate failed
    REJECTED = "rejected"  # the agent pressed reject


@dataclass(frozen=True)
class AgentDeclined(AcdEvent):
    """The ringing agent leg ended before answer. (A ring timeout needs no event: see Tick.)"""

    call_id: str
    agent: str
    reason: DeclineReason = DeclineReason.REJECTED
    offer: int | None = None  # RingAgent.offer of the leg; None: not checked


@dataclass(frozen=True)
class AgentAnswered(AcdEvent):
    call_id: str
    agent: str
    offer: int | None = None  # RingAgent.offer of the leg; None: not checked


@dataclass(frozen=True)
class AgentHungUp(AcdEvent):
    """The agent's leg of a connected call ended (the caller may still be on the line)."""

    call_id: str
    agent: str


@dataclass(frozen=True)
class ResidentAnswered(AcdEvent):
    """The resident picked up a callback we dialled (after `DialResident`)."""

    call_id: str


@dataclass(frozen=True)
class ResidentUnreachable(AcdEvent):
    call_id: str


@dataclass(frozen=True)
class ConsultAnswered(AcdEvent):
    """The target of an attended transfer answered the consultation leg."""

    call_id: str


@dataclass(frozen=True)
class ConsultFailed(AcdEvent):
    call_id: str


@dataclass(frozen=True)
class CallbackRequested(AcdEvent):
    """A waiting caller chose to be called back: they hang up but keep their place."""

    call_id: str
    number: str = ""  # empty: the caller id they called from


# --- from desktops (checked by the hub) --------------------------------------------------------


@dataclass(frozen=True)
class AgentLoggedIn(AcdEvent):
    profile: AgentProfile
    endpoint: str  # e.g. PJSIP/agent-17, or Local/agent-17@scripted-agents for tests
    paused_reason: str | None = None


@dataclass(frozen=True)
class AgentLoggedOut(AcdEvent):
    agent: str
    by: str | None = None  # a supervisor forcing it


@dataclass(frozen=True)
class AgentPaused(AcdEvent):
    """Pause now, or after the current call when on a call (pending pause)."""

    agent: str
    reason: str
    by: str | None = None


@dataclass(frozen=True)
class AgentReady(AcdEvent):
    agent: str


@dataclass(frozen=True)
class WrapUpCompleted(AcdEvent):
    agent: str
    disposition: str
    notes: str = ""


@dataclass(frozen=True)
class WrapUpExtended(AcdEvent):
    """A supervisor gives a consultant more wrap-up time (`by` names them)."""

    agent: str
    seconds: float
    by: str = ""


@dataclass(frozen=True)
class HoldRequested(AcdEvent):
    call_id: str
    agent: str


@dataclass(frozen=True)
class UnholdRequested(AcdEvent):
    call_id: str
    agent: str


@dataclass(frozen=True)
class HangupRequested(AcdEvent):
    call_id: str
    agent: str


class TargetKind(StrEnum):
    QUEUE = "queue"
    AGENT = "agent"
    EXTERNAL = "external"


@dataclass(frozen=True)
class TransferRequested(AcdEvent):
    call_id: str
    agent: str
    kind: TargetKind
    target: str
    attended: bool = False


@dataclass(frozen=True)
class TransferCompleted(AcdEvent):
    """The agent finishes an attended transfer: caller and target are joined."""

    call_id: str
    agent: str


@dataclass(frozen=True)
class TransferCancelled(AcdEvent):
    call_id: str
    agent: str


@dataclass(frozen=True)
class CallbackScheduled(AcdEvent):
    """A consultant (or the portal) books a callback; it joins the queue at the back."""

    callback_id: str
    queue: str
    caller: Caller
    not_before: datetime | None = None
    context: CallContext = EMPTY_CONTEXT


class SnoopMode(StrEnum):
    LISTEN = "listen"  # supervisor hears both sides
    WHISPER = "whisper"  # supervisor heard by the agent only
    BARGE = "barge"  # supervisor joins the conversation


@dataclass(frozen=True)
class SnoopRequested(AcdEvent):
    call_id: str
    supervisor: str
    endpoint: str
    mode: SnoopMode
