"""Agents' state changes into the CRM: the log, and the hourly totals the reports read.

Rules: each change is one agent_state_log row; when a change arrives, the agent's previous
state ends, and its seconds are added to agent_state_hours, split at Warsaw's hour boundaries
(offline time is not kept). A `reserved` spell (the phone ringing) that did not become
`on_call` for the same call is an unanswered offer, counted in the hour it began. Changes are
applied in the order they happened (the outbox keeps it); a change older than the agent's last
one is logged but adds nothing (a replay cannot count a spell twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_core.models import AgentStateHour, AgentStateLog
from ground import events as ev

WARSAW = ZoneInfo("Europe/Warsaw")


@dataclass(frozen=True)
class Last:
    at: datetime
    state: str
    reason: str
    call_id: str


def hour_pieces(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """[start, end) cut at Warsaw's hour boundaries: (start of the local hour, seconds)."""
    out: list[tuple[datetime, float]] = []
    cursor = start
    while cursor < end:
        local = cursor.astimezone(WARSAW)
        hour = local.replace(minute=0, second=0, microsecond=0)
        # Hours are whole in every zone Warsaw uses, so the next boundary is an hour on in UTC.
        nxt = min(end, hour.astimezone(cursor.tzinfo) + timedelta(hours=1))
        out.append((hour, (nxt - cursor).total_seconds()))
        cursor = nxt
    return out


class AgentStateRecorder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._last: dict[str, Last | None] = {}
        self._rows: list[dict[str, object]] = []
        self._hours: dict[tuple[str, datetime, str, str], list[float]] = {}

    def _previous(self, agent: str) -> Last | None:
        if agent not in self._last:
            log = AgentStateLog
            row = self.session.execute(
                sa.select(log.at, log.state, log.reason, log.call_id)
                .where(log.agent == agent).order_by(log.at.desc(), log.id.desc()).limit(1)).first()
            self._last[agent] = (None if row is None
                                 else Last(row.at, row.state, row.reason or "", row.call_id or ""))
        return self._last[agent]

    def add(self, event: ev.AgentStateChanged) -> None:
        agent = event.agent[:64]
        self._rows.append({"agent": agent, "at": event.at, "state": event.state[:12],
                           "reason": event.reason[:80], "call_id": event.call_id[:64] or None})
        prev = self._previous(agent)
        if prev is not None and prev.at > event.at:
            return
        if prev is not None:
            if prev.state != "offline":
                reason = prev.reason if prev.state == "paused" else ""
                for hour, seconds in hour_pieces(prev.at, event.at):
                    self._tally(agent, hour, prev.state, reason)[0] += seconds
            if prev.state == "reserved" and not (event.state == "on_call"
                                                 and event.call_id == prev.call_id):
                start = prev.at.astimezone(WARSAW).replace(minute=0, second=0, microsecond=0)
                self._tally(agent, start, "reserved", "")[1] += 1
        self._last[agent] = Last(event.at, event.state, event.reason, event.call_id)

    def _tally(self, agent: str, hour: datetime, state: str, reason: str) -> list[float]:
        return self._hours.setdefault((agent, hour, state[:12], reason[:80]), [0.0, 0])

    def finish(self) -> None:
        if self._rows:
            log: sa.Table = AgentStateLog.__table__  # type: ignore[assignment]
            self.session.execute(log.insert(), self._rows)
            self._rows.clear()
        if not self._hours:
            return
        table: sa.Table = AgentStateHour.__table__  # type: ignore[assignment]
        insert = (postgresql.insert(table) if self.session.get_bind().dialect.name == "postgresql"
                  else sqlite.insert(table))
        stmt = insert.on_conflict_do_update(
            index_elements=["agent", "hour", "state", "reason"],
            set_={"seconds": table.c.seconds + insert.excluded.seconds,
                  "unanswered": table.c.unanswered + insert.excluded.unanswered})
        self.session.execute(stmt, [
            {"agent": a, "hour": h, "state": s, "reason": r, "weekday": h.weekday(),
             "hour_of_day": h.hour, "seconds": v[0], "unanswered": int(v[1])}
            for (a, h, s, r), v in self._hours.items()])
        self._hours.clear()
