"""Live figures for the supervisor feed and the wallboard.

Rules: a fold over the ACD's notices (today's totals, reset at midnight in Warsaw) plus a look at
the ACD's current state (who waits, for how long, who is in which state). Pure: time is passed in.

Definitions (the ones 19115's contract uses):
- service level = answered within the queue's threshold / (answered + abandoned), callers only;
- ASA (average speed of answer) = mean wait of answered callers;
- abandoned % = abandoned / (answered + abandoned);
- callbacks are never abandoned; they are counted as pending, done or failed.
Waits count from joining *this* queue, so an overflowed caller counts in the queue that answered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cti import notices as nt
from cti.acd import WARSAW, Acd
from cti.agent import AgentStatus
from cti.config import QueueConfig


@dataclass
class QueueTally:
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    wait_answered_s: float = 0.0
    callbacks_done: int = 0
    callbacks_failed: int = 0
    overflowed: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class QueueFigures:
    queue: str
    waiting: int
    longest_wait_s: float
    callbacks_pending: int
    answered: int
    abandoned: int
    service_level: float | None  # None until someone was answered or abandoned today
    service_level_target: float
    service_level_s: float
    asa_s: float | None
    abandoned_pct: float | None
    agents_logged_in: int
    agents_available: int


@dataclass(frozen=True)
class AgentFigures:
    agent: str
    name: str
    state: str
    reason: str
    in_state_s: float
    call_id: str | None


class LiveFigures:
    def __init__(self, tz: ZoneInfo = WARSAW) -> None:
        self.tz = tz
        self.day = ""
        self.tallies: dict[str, QueueTally] = {}

    def apply(self, notice: nt.Notice, queues: Mapping[str, QueueConfig]) -> None:
        day = notice.at.astimezone(self.tz).date().isoformat()
        if day != self.day:
            self.day = day
            self.tallies.clear()
        if isinstance(notice, nt.CallConnected):
            if notice.transferred:
                return
            tally = self._tally(notice.queue)
            if notice.callback:
                tally.callbacks_done += 1
                return
            tally.answered += 1
            tally.wait_answered_s += notice.waited_s
            config = queues.get(notice.queue)
            if config is not None and notice.waited_s <= config.service_level_s:
                tally.answered_in_sl += 1
        elif isinstance(notice, nt.CallLeftQueue):
            tally = self._tally(notice.queue)
            if notice.reason == "abandoned" and not notice.callback:
                tally.abandoned += 1
            elif notice.reason == "callback_failed":
                tally.callbacks_failed += 1
            elif notice.reason == "overflow":
                tally.overflowed += 1
            elif notice.reason in ("full", "no_agents"):
                tally.rejected += 1

    def dump(self) -> dict[str, Any]:
        return {"day": self.day,
                "tallies": {q: dataclasses.asdict(t) for q, t in self.tallies.items()}}

    def restore(self, data: Mapping[str, Any]) -> None:
        """Today's totals from `dump`; ignored when malformed (figures are not worth a crash)."""
        try:
            tallies = {str(q): QueueTally(**t) for q, t in data.get("tallies", {}).items()}
        except TypeError:
            return
        self.day = str(data.get("day", ""))
        self.tallies = tallies

    def _tally(self, queue: str) -> QueueTally:
        return self.tallies.setdefault(queue, QueueTally())

    def queues(self, acd: Acd, now: datetime) -> list[QueueFigures]:
        out: list[QueueFigures] = []
        for name, config in sorted(acd.queues.items()):
            waiting = 0
            longest = 0.0
            callbacks = 0
            for entry in acd.waiting(name):
                if entry.callback:
                    callbacks += 1
                    continue
                waiting += 1
                longest = max(longest, (now - entry.joined_at).total_seconds())
            tally = self.tallies.get(name, QueueTally())
            settled = tally.answered + tally.abandoned
            members = [a for a in acd.agents.values()
                       if a.status is not AgentStatus.OFFLINE and a.profile.membership(name)]
            out.append(QueueFigures(
                queue=name, waiting=waiting, longest_wait_s=round(longest, 1),
                callbacks_pending=callbacks, answered=tally.answered, abandoned=tally.abandoned,
                service_level=round(tally.answered_in_sl / settled, 4) if settled else None,
                service_level_target=config.service_level_target,
                service_level_s=config.service_level_s,
                asa_s=round(tally.wait_answered_s / tally.answered, 1) if tally.answered else None,
                abandoned_pct=round(100 * tally.abandoned / settled, 2) if settled else None,
                agents_logged_in=len(members),
                agents_available=sum(1 for a in members if a.status is AgentStatus.AVAILABLE),
            ))
        return out

    @staticmethod
    def agents(acd: Acd, now: datetime) -> list[AgentFigures]:
        return [
            AgentFigures(a.agent_id, a.profile.name, a.status.value, a.reason,
                         round((now - a.since).total_seconds(), 1) if a.since else 0.0, a.call_id)
            for a in sorted(acd.agents.values(), key=lambda a: a.agent_id)
        ]
