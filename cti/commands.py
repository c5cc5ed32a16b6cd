"""What the ACD asks the pbx adapter to do. See `cti/__init__.py` for each command's contract.

Rules: frozen dataclasses; each names the call by `call_id` (the caller's channel id, or a
callback id for callbacks not yet dialled). Commands for one call are emitted in the order they
must be executed; the adapter executes them in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.events import SnoopMode


@dataclass(frozen=True)
class Command:
    call_id: str


@dataclass(frozen=True)
class HoldInQueue(Command):
    """Move the caller into the queue's holding bridge with music on hold."""

    queue: str
    bridge: str  # "ckm-queue-<queue>": stable, so a restarted controller finds it again
    moh_class: str


@dataclass(frozen=True)
class AnnouncePosition(Command):
    position: int  # 1 = next in line
    estimated_wait_s: int | None  # rounded up to whole minutes; None: not known


@dataclass(frozen=True)
class OfferCallback(Command):
    """Ask the waiting caller whether they want a callback (answer with CallbackRequested)."""

    queue: str


@dataclass(frozen=True)
class RejectFromQueue(Command):
    """The caller may not wait (queue full, nobody logged in). Play a prompt, then hang up or
    return the call to the IVR; the ACD has forgotten it."""

    queue: str
    reason: str  # full | no_agents


@dataclass(frozen=True)
class RingAgent(Command):
    agent: str
    endpoint: str
    caller_number: str
    caller_name: str
    timeout_s: float
    queue: str
    callback: bool = False  # ring the agent for a callback: no caller channel exists yet
    offer: int = 0  # ring round id: report it back in AgentAnswered/AgentDeclined


@dataclass(frozen=True)
class CancelRing(Command):
    """Hang up the ringing agent leg (timeout, caller gone, another agent answered)."""

    agent: str


@dataclass(frozen=True)
class BridgeCall(Command):
    """Take the caller out of the holding bridge and bridge them with the agent's leg."""

    agent: str
    record: bool = False  # record the bridge as "<call_id>"


@dataclass(frozen=True)
class DialResident(Command):
    """Callback: originate to the resident's number; on answer bridge with the agent's leg."""

    agent: str
    number: str
    caller_name: str


@dataclass(frozen=True)
class HoldCall(Command):
    moh_class: str


@dataclass(frozen=True)
class UnholdCall(Command):
    pass


@dataclass(frozen=True)
class HangupAgentLeg(Command):
    agent: str


@dataclass(frozen=True)
class HangupCall(Command):
    """Hang up the caller (and, if bridged, the agent leg)."""


@dataclass(frozen=True)
class DialExternal(Command):
    """Blind transfer out: connect the caller to an outside number; we are done with the call."""

    number: str


@dataclass(frozen=True)
class StartConsult(Command):
    """Attended transfer: the caller is held; originate a consultation leg from the agent."""

    agent: str
    target_endpoint: str  # an agent endpoint, or "external:<number>"


@dataclass(frozen=True)
class CompleteConsult(Command):
    """Bridge the caller with the consultation leg; hang up the transferring agent's leg.
    `target` is the colleague whose leg the consultation leg becomes ("" for an outside
    number, whose leg goes when the caller's does)."""

    agent: str
    target: str = ""


@dataclass(frozen=True)
class CancelConsult(Command):
    """Hang up the consultation leg and take the caller off hold back to the agent."""

    agent: str


@dataclass(frozen=True)
class Snoop(Command):
    """ARI snoop on the agent's channel for a supervisor endpoint."""

    agent: str
    supervisor: str
    endpoint: str
    mode: SnoopMode
