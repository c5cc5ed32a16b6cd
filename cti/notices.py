"""What the ACD tells everyone else: facts for the CTI hub, the live figures and the CRM.

Rules: frozen dataclasses; emitted alongside commands, in the order things happened. They are
facts about routing decisions, not instructions (those are `cti.commands`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cti.config import CallContext, Caller


@dataclass(frozen=True)
class Notice:
    at: datetime


@dataclass(frozen=True)
class AgentStateChanged(Notice):
    agent: str
    state: str  # AgentStatus value
    reason: str = ""  # pause reason, "autopause", "forced by <supervisor>"
    call_id: str | None = None


@dataclass(frozen=True)
class CallQueued(Notice):
    call_id: str
    queue: str
    caller: Caller
    priority: int
    callback: bool
    context: CallContext


@dataclass(frozen=True)
class CallOffered(Notice):
    call_id: str
    queue: str
    agent: str
    caller: Caller
    context: CallContext
    callback: bool
    waited_s: float


@dataclass(frozen=True)
class OfferWithdrawn(Notice):
    call_id: str
    agent: str
    reason: str  # timeout | declined | caller_gone | answered_elsewhere | logout


@dataclass(frozen=True)
class CallConnected(Notice):
    call_id: str
    queue: str
    agent: str
    waited_s: float
    callback: bool
    transferred: bool = False  # handed over by a colleague: not a new answer for the figures


@dataclass(frozen=True)
class CallHeld(Notice):
    call_id: str
    agent: str
    held: bool


@dataclass(frozen=True)
class CallTransferred(Notice):
    call_id: str
    agent: str
    kind: str
    target: str
    attended: bool


@dataclass(frozen=True)
class CallLeftQueue(Notice):
    """A queue entry ended without an agent from this queue."""

    call_id: str
    queue: str
    # abandoned | abandoned_after_transfer | overflow | full | no_agents | callback_failed
    reason: str
    waited_s: float
    callback: bool


@dataclass(frozen=True)
class CallEnded(Notice):
    call_id: str
    queue: str
    agent: str
    by: str  # caller | agent | transfer
    talk_s: float


@dataclass(frozen=True)
class WrapUpDone(Notice):
    agent: str
    call_id: str | None
    disposition: str  # "" when the timer ran out first
    notes: str


@dataclass(frozen=True)
class CallbackAttempted(Notice):
    """The resident was dialled for `agent`: reached, or not (`final`: no retry follows)."""

    call_id: str
    queue: str
    agent: str
    reached: bool
    attempt: int
    final: bool
