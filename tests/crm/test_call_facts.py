"""call_facts (migration 0016, PostgreSQL) follows every write of a call: the recorder's
batches through the outbox (the live path), the desk's wrap-up, IVR steps written after the
call; each row equals what refresh_call_facts works out from the call afresh, and the report
read from it equals the fold of the calls themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import DispositionCode
from crm_core.outbox import Journal, OutboxWriter
from crm_core.services import reports_calls as rc
from crm_core.services.contact_center import create_queue
from crm_core.services.interactions import record_contact, wrap_up
from ground import events as ev

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

T0 = datetime(2026, 11, 30, 8, 0, 0, 250000, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def facts(db: Database) -> dict[str, tuple[Any, ...]]:
    """Each call's row of call_facts, by its call id."""
    with db.reading() as session:
        return {r[0]: tuple(r[1:]) for r in session.execute(sa.text(
            "SELECT i.call_id, f.* FROM call_facts f JOIN interactions i ON i.id = f.interaction_id"))}


def afresh(db: Database) -> dict[str, tuple[Any, ...]]:
    """The facts worked out again from the calls (and put back: they are the same)."""
    with db.writing() as session:
        session.execute(sa.text(
            "SELECT refresh_call_facts(ARRAY(SELECT id FROM interactions))"))
    return facts(db)


def applied(db: Database, journal: Journal, *events: ev.DomainEvent) -> None:
    for event in events:
        journal.append(event)
    writer = OutboxWriter(journal, db)
    while writer.apply_batch():
        pass
    assert writer.failed == 0, writer.last_error


def test_the_recorders_writes_keep_the_facts_and_the_report_reads_them(
        db: Database, tmp_path: Path) -> None:
    create_queue(db, name="ogolna", display_name="Ogólna", sl_threshold_s=20)
    with db.writing() as session:
        session.add(DispositionCode(code="info", label="Informacja"))
    journal = Journal(tmp_path / "outbox.sqlite3")
    try:
        # Answered after 12.3456 s, 40.5 s of talk with 10 s on hold; wrapped up at the desk.
        applied(db, journal,
                ev.CallStarted("a1", at(0), "+48600100200", "", "19115", "PJSIP/t-a1"),
                ev.CallQueued("a1", at(5), "ogolna", "drogi", 2, "uk"),
                ev.AgentConnected("a1", at(17.3456), "ogolna", "k1", 12.3456),
                ev.CallHeld("a1", at(20), "k1", True), ev.CallHeld("a1", at(30), "k1", False),
                ev.CallEnded("a1", at(57.8456), "agent_hangup"),
                # Abandoned after 3 s; an IVR-only call that looked up a case's status.
                ev.CallStarted("x1", at(60), "+48600100201", "", "19115", "PJSIP/t-x1"),
                ev.CallQueued("x1", at(61), "ogolna", "", 2, ""),
                ev.CallLeftQueue("x1", at(64), "ogolna", "abandoned", 3.0),
                ev.CallEnded("x1", at(64), "caller_hangup_in_queue"),
                ev.CallStarted("s1", at(70), "+48600100202", "", "19115", "PJSIP/t-s1"),
                ev.IvrStep("s1", at(75), "19115", "1", "status_lookup", "dtmf", "1", None, "x"),
                ev.CallEnded("s1", at(90), "caller_hangup"),
                # A caller who asked for a callback, reached the next morning.
                ev.CallStarted("b1", at(100), "+48600100203", "", "19115", "PJSIP/t-b1"),
                ev.CallQueued("b1", at(101), "ogolna", "", 2, "pl"),
                ev.CallbackRequested("b1", at(120), "ogolna", "+48600100203"),
                ev.CallEnded("b1", at(121), "caller_hangup_in_queue"))
        before = facts(db)
        assert before == afresh(db)
        by_call = before
        assert set(by_call) == {"a1", "x1", "s1", "b1"}
        (_, started, queue, language, agent, wait, wait_ms, talk_ms, hold_ms, wrapup_ms,
         agent_talk_ms, ended, transferred, reached, offered_s, answered_s, abandoned_s,
         requested_s, made_s, served_s) = by_call["a1"]
        assert started == at(0)
        assert (queue, language, agent, wait, wait_ms) == ("ogolna", "uk", "k1", 12.3456, 12346)
        assert (talk_ms, hold_ms, wrapup_ms, agent_talk_ms) == (30500, 10000, 0, 40500)
        assert (ended, transferred, reached) == (True, False, False)
        epoch = int(T0.timestamp())
        assert (offered_s, answered_s, abandoned_s) == (epoch + 5, epoch + 17, None)
        assert (requested_s, made_s, served_s) == (None, None, None)
        assert by_call["x1"][14:17] == (epoch + 61, None, epoch + 64)
        assert by_call["s1"][19] == epoch + 70  # self-service, from its IVR step
        assert by_call["b1"][14:19] == (epoch + 101, None, None, epoch + 120, None)

        # Written later: the desk's wrap-up, the callback's last attempt, a step of a call.
        wrap_up(db, "a1", disposition_code="info", at=at(87.8456))
        applied(db, journal,
                ev.CallbackAttempted("b1", at(86400), "k1", True, 1, True),
                ev.CallStarted("s2", at(200), "+48600100204", "", "19115", "PJSIP/t-s2"),
                ev.CallEnded("s2", at(230), "caller_hangup"))
        with db.writing() as session:  # a step written after its call (a replayed journal)
            session.execute(sa.text(
                "INSERT INTO interaction_ivr_steps (interaction_id, seq, at, script, version, "
                " node, input_kind, input_value, next_node) "
                "SELECT id, 1, started_at, '19115', '1', 'info_hours', 'dtmf', '2', 'x' "
                "FROM interactions WHERE call_id = 's2'"))
        record_contact(db, channel="portal", at=at(300), subject="no call, no facts")
        after = facts(db)
        assert after == afresh(db)
        by_call = after
        assert set(by_call) == {"a1", "x1", "s1", "b1", "s2"}  # not the portal's contact
        assert by_call["a1"][9] == 30000  # wrap-up: hang-up to the desk's disposition
        assert by_call["b1"][13] is True and by_call["b1"][18] == epoch + 86400
        assert by_call["s2"][19] == epoch + 200
    finally:
        journal.close()

    for step in ("day", "15min"):
        flt = rc.ReportFilter(date(2026, 11, 30), date(2026, 12, 1), step=step)
        assert rc.database_report_and_handled(db, flt) == rc.folded_report_and_handled(db, flt)
    total = rc.contact_center_report(db, flt, now=at(90000)).calls.total()
    assert (total.offered, total.answered, total.abandoned, total.callbacks_made,
            total.self_service) == (3, 1, 1, 1, 2)
