"""The wallboard's chart of the day starts at midnight: calls the CRM recorded before the center
(re)started are counted, in the slot of their own moment; the bus counts from then on, and no
call is counted twice. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from agent_desktop.today import TodayChart, midnight
from crm_core.db import Database
from crm_core.services.contact_center import queued_calls_between
from crm_core.services.interactions import record_event
from ground import events as ev

# 12:00 in Warsaw (UTC+1 in winter).
NOW = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)


def queued_call(db: Database, call_id: str, joined: datetime, *, answered_after: float | None,
                abandoned_after: float | None = None, queue: str = "ogolna") -> None:
    events: list[ev.DomainEvent] = [
        ev.CallStarted(call_id, joined - timedelta(seconds=20), "+48600100200", "", "19115",
                       f"PJSIP/trunk-{call_id}"),
        ev.CallQueued(call_id, joined, queue, "roads", 2),
    ]
    if answered_after is not None:
        events.append(ev.AgentConnected(call_id, joined + timedelta(seconds=answered_after),
                                        queue, "konsultant1", answered_after))
        events.append(ev.CallEnded(call_id, joined + timedelta(seconds=answered_after + 90),
                                   "caller_hangup"))
    elif abandoned_after is not None:
        events.append(ev.CallEnded(call_id, joined + timedelta(seconds=abandoned_after),
                                   "abandoned"))
    for event in events:
        record_event(db, event)


def slot_of(at: datetime) -> int:
    local = at.astimezone(midnight(at).tzinfo)
    return (local.hour * 60 + local.minute) // 15


def test_the_day_so_far_comes_from_the_crm_and_the_bus_takes_over(db: Database) -> None:
    day_start = midnight(NOW)
    assert day_start.astimezone(UTC) == datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    # Yesterday evening: not today's.
    queued_call(db, "yesterday", day_start - timedelta(minutes=5), answered_after=10)
    # 08:05 answered in 12 s; 08:07 answered in 75 s (outside the 30 s level); 09:31 abandoned.
    early = day_start + timedelta(hours=8, minutes=5)
    queued_call(db, "early-fast", early, answered_after=12)
    queued_call(db, "early-slow", early + timedelta(minutes=2), answered_after=75)
    queued_call(db, "gave-up", day_start + timedelta(hours=9, minutes=31), answered_after=None,
                abandoned_after=40)
    # Joined before the restart, answered after it: the bus brings the answer.
    queued_call(db, "straddles", NOW - timedelta(seconds=20), answered_after=None)

    calls = queued_calls_between(db, day_start, NOW)
    assert [c.queue for c in calls] == ["ogolna"] * 4
    assert calls[0].queued_at == early and calls[0].wait_s == 12.0

    chart = TodayChart(sl_threshold_s={"ogolna": 30.0})
    assert chart.backfill(calls, NOW) == 4
    view = chart.view()
    assert view["day"] == "2026-11-29"
    slots = view["slots"]
    assert slots[slot_of(early)] == [2, 2, 1, 0]  # offered, answered, in SL, abandoned
    assert slots[slot_of(day_start + timedelta(hours=9, minutes=31, seconds=40))] == [1, 0, 0, 1]
    assert slots[slot_of(NOW - timedelta(seconds=20))] == [1, 0, 0, 0]  # 11:59:40

    # After the restart the bus counts: the straddling call is answered now, once.
    asyncio.run(chart.on_event(ev.AgentConnected("straddles", NOW + timedelta(seconds=5),
                                                  "ogolna", "konsultant1", 25.0)))
    assert chart.view()["slots"][slot_of(NOW)] == [0, 1, 1, 0]  # 12:00:05
    assert sum(s[0] for s in chart.view()["slots"]) == 4
