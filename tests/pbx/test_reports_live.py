"""The wallboard's today and the report's today agree after calls through the real Asterisk.

A whole center on the sandbox (controller, IVR, ACD, CRM outbox): a consultant answers two
residents' calls; while they are on a break two more residents wait and hang up. Then the
figures the wallboard shows for the queue (the switchboard's live figures, the same object
/wallboard's feed sends) and the totals of its chart of the day (agent_desktop.today, fed by
the bus as on the wallboard) equal what /reports computes for today from the CRM.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent_desktop.today import TodayChart
from ckm.assembly import Center
from crm_core.models import utcnow
from crm_core.services import reports_calls
from crm_core.services.reports_calls import WARSAW, ReportFilter
from cti import events as ce
from ground.settings import Settings
from pbx.ari_client import AriClient
from tests.crm.conftest import _ensure_postgres, create_pg_database, drop_pg_database, pg_url
from tests.polling import wait_until

from .live_center import Recorder, call_into_queue, crm_call, live_center, log_in, resident_phone, set_wrapup

pytestmark = pytest.mark.asterisk
QUEUE = "ogolna"


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def center(request: pytest.FixtureRequest, asterisk: Any, settings: Settings,
                 tmp_path: Path) -> AsyncIterator[tuple[Center, Recorder]]:
    """The center's CRM on SQLite (the report folds the calls) and on PostgreSQL (the report
    reads call_facts, kept by the database as the recorder writes, and adds them up as
    columns)."""
    if request.param == "sqlite":
        async with live_center(settings, tmp_path) as running:
            yield running
        return
    _ensure_postgres()
    name = create_pg_database()
    try:
        async with live_center(settings, tmp_path, database_url=pg_url(name)) as running:
            yield running
    finally:
        drop_pg_database(name)


async def wait_for(what: str, check: Any, timeout: float = 20.0) -> None:
    await wait_until(what, check, timeout, every_s=0.2)


async def answered_call(c: Center, phone: AriClient, settings: Settings, number: str) -> str:
    board = c.switchboard
    caller, call_id = await call_into_queue(c, phone, settings, number)
    await wait_for("the consultant to answer", lambda: call_id in board.acd.calls)
    await asyncio.sleep(1.0)  # a second of talk
    await phone.hangup(caller)
    await crm_call(c, call_id, lambda v: v.ended_at is not None and v.talk_s is not None,
                   "the answered call recorded as ended")
    return call_id


async def abandoned_call(c: Center, phone: AriClient, settings: Settings, number: str,
                         wait_s: float) -> str:
    caller, call_id = await call_into_queue(c, phone, settings, number)
    await asyncio.sleep(wait_s)  # nobody free: the resident gives up
    await phone.hangup(caller)
    from crm_core.models import Interaction

    def abandoned() -> bool:
        assert c.db is not None
        with c.db.reading() as session:
            row = session.query(Interaction).filter_by(call_id=call_id).one_or_none()
            return row is not None and row.left_queue_reason == "abandoned"

    await wait_for("the abandoned call in the CRM", abandoned)
    return call_id


async def test_wallboard_today_equals_reports_today(center: tuple[Center, Recorder],
                                                    settings: Settings) -> None:
    c, _ = center
    board = c.switchboard
    assert c.db is not None
    chart = TodayChart(sl_threshold_s={q: cfg.service_level_s for q, cfg in board.acd.queues.items()})
    c.bus.subscribe("test.today", chart.on_event)
    set_wrapup(c, QUEUE, 1.0)
    await log_in(c, "konsultant1", "Local/answer@ckm-test-agents")
    phone = await resident_phone(settings)
    try:
        await answered_call(c, phone, settings, "+48600200301")
        await wait_for("the consultant free again",
                       lambda: board.acd.agents["konsultant1"].status.value == "available")
        board.feed(ce.AgentPaused(board.now(), "konsultant1", "break"))
        await abandoned_call(c, phone, settings, "+48600200302", 2.0)
        await abandoned_call(c, phone, settings, "+48600200303", 4.0)
        board.feed(ce.AgentReady(board.now(), "konsultant1"))
        await answered_call(c, phone, settings, "+48600200304")
    finally:
        await phone.stop()
    await c.bus.drain()

    now = utcnow()
    live = next(q for q in board.figures.queues(board.acd, now) if q.queue == QUEUE)
    today = now.astimezone(WARSAW).date()
    report = reports_calls.contact_center_report(c.db, ReportFilter(today, today), now=now)
    mine = report.calls.queue(QUEUE)
    assert mine is not None
    assert (live.answered, live.abandoned) == (2, 2)
    assert (mine.answered, mine.abandoned, mine.service_level, mine.asa_s, mine.abandoned_pct) == (
        live.answered, live.abandoned, live.service_level, live.asa_s, live.abandoned_pct)
    # The chart of the day on the wallboard: offered, answered, in the level, abandoned.
    slots = chart.view()["slots"]
    chart_totals = [sum(s[i] for s in slots) for i in range(4)]
    total = report.calls.total()
    assert chart_totals == [total.offered, total.answered, total.answered_in_sl, total.abandoned]
    assert total.offered == 4
    # The consultant's day as the report has it: two calls handled, a break being taken
    # (recorded from the ACD's state changes).
    agent = next(a for a in report.agents if a.agent == "konsultant1")
    assert agent.handled == 2 and agent.by_pause_reason_s.get("break", 0) > 5
