"""The agent state machine: offline, available, reserved (ringing), on call, wrap-up, paused.

Rules: `Agent` is frozen; `transition` returns a new one or raises `IllegalTransition` naming the
state and the action, leaving the caller's copy untouched. The table below is the whole machine;
the dispatcher (`cti.acd`) decides *which* allowed target applies (e.g. paused instead of
available when a pause was requested during the call).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cti.config import AgentProfile
from cti.frozen import evolve


class AgentStatus(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"  # a call is ringing on the agent's endpoint
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class Action(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    READY = "ready"
    OFFER = "offer"
    WITHDRAW = "withdraw"  # ring ended without answer
    ANSWER = "answer"
    END_CALL = "end_call"
    END_WRAPUP = "end_wrapup"


class IllegalTransition(ValueError):
    """An action that the agent's current state does not allow."""


S, A = AgentStatus, Action
TRANSITIONS: dict[tuple[AgentStatus, Action], tuple[AgentStatus, ...]] = {
    (S.OFFLINE, A.LOGIN): (S.AVAILABLE, S.PAUSED),
    (S.AVAILABLE, A.LOGOUT): (S.OFFLINE,),
    (S.PAUSED, A.LOGOUT): (S.OFFLINE,),
    (S.WRAP_UP, A.LOGOUT): (S.OFFLINE,),
    (S.RESERVED, A.LOGOUT): (S.OFFLINE,),
    (S.AVAILABLE, A.PAUSE): (S.PAUSED,),
    (S.PAUSED, A.PAUSE): (S.PAUSED,),
    (S.WRAP_UP, A.PAUSE): (S.PAUSED,),
    (S.PAUSED, A.READY): (S.AVAILABLE,),
    (S.AVAILABLE, A.OFFER): (S.RESERVED,),
    (S.RESERVED, A.WITHDRAW): (S.AVAILABLE, S.PAUSED),
    (S.RESERVED, A.ANSWER): (S.ON_CALL,),
    # AVAILABLE/PAUSED: no wrap-up (wrapup_s 0, a callback nobody answered, a consult target).
    (S.ON_CALL, A.END_CALL): (S.WRAP_UP, S.AVAILABLE, S.PAUSED),
    (S.WRAP_UP, A.END_WRAPUP): (S.AVAILABLE, S.PAUSED),
}
del S, A


@dataclass(frozen=True)
class Agent:
    profile: AgentProfile
    status: AgentStatus = AgentStatus.OFFLINE
    since: datetime | None = None
    endpoint: str = ""
    reason: str = ""  # pause reason
    call_id: str | None = None  # the call ringing, connected or being wrapped up
    idle_since: datetime | None = None  # for longest-idle: when the last call ended
    unanswered: int = 0  # consecutive offers not answered (auto-pause)
    pending_pause: str | None = None  # pause requested while busy: applied after the call
    wrapup_until: datetime | None = None

    @property
    def agent_id(self) -> str:
        return self.profile.agent_id


def transition(
    agent: Agent,
    action: Action,
    at: datetime,
    *,
    to: AgentStatus | None = None,
    reason: str = "",
    call_id: str | None = None,
) -> Agent:
    allowed = TRANSITIONS.get((agent.status, action))
    if allowed is None:
        raise IllegalTransition(
            f"agent {agent.agent_id}: cannot {action.value} while {agent.status.value}"
        )
    target = allowed[0] if to is None else to
    if target not in allowed:
        raise IllegalTransition(
            f"agent {agent.agent_id}: {action.value} from {agent.status.value} leads to "
            f"{'/'.join(s.value for s in allowed)}, not {target.value}"
        )
    changes: dict[str, object] = {"status": target, "since": at}
    changes["reason"] = reason if target is AgentStatus.PAUSED else ""
    if target in (AgentStatus.RESERVED, AgentStatus.ON_CALL, AgentStatus.WRAP_UP):
        changes["call_id"] = call_id if call_id is not None else agent.call_id
    else:
        changes["call_id"] = None
    if target is not AgentStatus.WRAP_UP:
        changes["wrapup_until"] = None
    if target is AgentStatus.PAUSED:
        changes["pending_pause"] = None
    if target is AgentStatus.AVAILABLE and action is not Action.WITHDRAW:
        # A declined ring does not cost the agent their place in the longest-idle order.
        changes["idle_since"] = at
    if target is AgentStatus.OFFLINE:
        changes["pending_pause"] = None
        changes["unanswered"] = 0
    return evolve(agent, **changes)
