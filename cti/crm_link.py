"""crm_core behind cti's ports: queues and seats, caller history, web sessions.

Rules: this is the only cti module that touches crm_core, and it imports it lazily, so the
routing core and the hub stay importable (and testable) without a database. crm_core is
synchronous; calls run in the default executor so a slow query never stalls the event loop
(the telephony path never waits on them: history is prefetched, queues load at start-up).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from cti.config import AgentProfile, Membership, QueueConfig, SkillRequirement, Strategy
from cti.ports import AgentSeat, Principal, Role

if TYPE_CHECKING:
    from crm_core.db import Database
    from crm_core.services.contact_center import QueueView

T = TypeVar("T")

# crm_core's names → ours. "skills_based" is longest-idle among the skilled: skills always
# filter in this ACD, whatever the strategy.
STRATEGIES = {
    "longest_idle": Strategy.LONGEST_IDLE,
    "skills_based": Strategy.LONGEST_IDLE,
    "round_robin": Strategy.ROUND_ROBIN,
    "fewest_calls": Strategy.FEWEST_CALLS,
    "ring_all": Strategy.RING_ALL,
    "linear": Strategy.LINEAR,
    "random": Strategy.RANDOM,
}


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def queue_config(view: QueueView, dispositions: frozenset[str]) -> QueueConfig:
    # An overflow needs a wait threshold; a queue that allows callbacks but has no threshold
    # offers them on request only (not as an overflow).
    overflow_after = (float(view.overflow_after_s)
                      if view.overflow_after_s and (view.overflow_queue or view.callback_allowed)
                      else None)
    return QueueConfig(
        name=view.name,
        strategy=STRATEGIES.get(view.strategy, Strategy.LONGEST_IDLE),
        moh_class=view.moh_class or "default",
        max_length=view.max_length,
        required_skills=tuple(SkillRequirement(s) for s in view.skills_required),
        overflow_after_s=overflow_after,
        overflow_queue=view.overflow_queue if overflow_after is not None else None,
        overflow_to_callback=(view.callback_allowed and view.overflow_queue is None
                              and overflow_after is not None),
        announce_every_s=(float(view.announce_interval_s)
                          if view.announce_position and view.announce_interval_s > 0 else None),
        service_level_s=float(view.sl_threshold_s),
        service_level_target=max(0.01, min(1.0, view.sl_target_pct / 100)),
        dispositions=dispositions,
        wrapup_s=float(view.wrapup_s),
        ring_timeout_s=float(max(1, view.ring_timeout_s)),
        autopause_after=view.autopause_after,
        record=view.record_calls,
        callback_attempts=max(1, view.callback_attempts),
        callback_retry_s=float(view.callback_retry_s),
    )


class CrmDirectory:
    """`ports.QueueDirectory` from crm_core's queues, members, skills and pause reasons."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def queues(self) -> Sequence[QueueConfig]:
        from crm_core.services import contact_center as cc

        views = await _off_loop(cc.list_queues, self.db)
        codes = frozenset(d.code for d in await _off_loop(cc.list_dispositions, self.db))
        return [queue_config(v, codes) for v in views]

    async def seat(self, user: str) -> AgentSeat | None:
        from crm_core.services import contact_center as cc

        views = await _off_loop(cc.list_queues, self.db)
        memberships: list[Membership] = []
        extension: str | None = None
        for view in views:
            for position, member in enumerate(view.members):
                if member.username == user:
                    memberships.append(Membership(view.name, member.penalty, position))
                    extension = extension or member.extension
        if not memberships:
            return None
        skills = await _off_loop(cc.agent_skills, self.db, user)
        profile = AgentProfile(user, user, skills, tuple(memberships))
        return AgentSeat(profile, f"PJSIP/{extension or user}")

    async def pause_reasons(self) -> frozenset[str]:
        from crm_core.services import contact_center as cc

        return frozenset(p.code for p in await _off_loop(cc.list_pause_reasons, self.db))


class CrmHistory:
    """`ports.HistoryProvider`: crm_core's caller_history as JSON-ready data."""

    def __init__(self, db: Database, limit: int = 10) -> None:
        self.db = db
        self.limit = limit

    async def caller_history(self, number: str) -> Mapping[str, Any]:
        from crm_core.services import residents

        history = await _off_loop(residents.caller_history, self.db, number, self.limit)
        data: dict[str, Any] = _jsonable(dataclasses.asdict(history))
        return data


class CrmSessions:
    """`ports.Authenticator`: a web session cookie (or the same token sent by a script); a
    session idle longer than `idle_minutes` (the setting session_idle_minutes) is over."""

    def __init__(self, db: Database, idle_minutes: int = 30) -> None:
        self.db = db
        self.idle_minutes = idle_minutes

    async def authenticate(self, credential: str) -> Principal | None:
        from datetime import timedelta

        from crm_core.services import users

        idle = timedelta(minutes=self.idle_minutes)
        view = await asyncio.get_running_loop().run_in_executor(
            None, lambda: users.session_user(self.db, credential, idle=idle))
        if view is None or not view.is_active:
            return None
        try:
            role = Role(view.role)
        except ValueError:
            return None  # department staff and IVR authors have no CTI desk
        return Principal(view.username, role)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
