"""The outbox: calls go on while the database is away, and every event lands exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crm_core import recorder
from crm_core.db import Database
from crm_core.models import AppliedEvent, Interaction, IvrPathStep
from crm_core.outbox import Journal, OutboxWriter, event_id, replay
from crm_core.services.interactions import get_call
from ground import events as ev
from ground.bus import EventBus
from tests.crm import conftest
from tests.crm.events_factory import T0, call_events
from tests.crm.tcp_proxy import TcpRelay
from tests.polling import wait_until


def _events(calls: int, prefix: str = "call") -> list[ev.DomainEvent]:
    out: list[ev.DomainEvent] = []
    for i in range(calls):
        out += call_events(f"{prefix}-{i}", f"60010{i:04d}", start=T0 + timedelta(minutes=i))
    return out


def _counts(db: Database) -> tuple[int, int, int]:
    with db.reading() as s:
        return (
            s.scalar(sa.select(sa.func.count()).select_from(Interaction)) or 0,
            s.scalar(sa.select(sa.func.count()).select_from(IvrPathStep)) or 0,
            s.scalar(sa.select(sa.func.count()).select_from(AppliedEvent)) or 0,
        )


def _assert_each_landed_once(db: Database, events: list[ev.DomainEvent]) -> None:
    calls = {e.call_id for e in events}
    steps = sum(isinstance(e, ev.IvrStep) for e in events)
    assert _counts(db) == (len(calls), steps, len(events))
    for call_id in calls:
        call = get_call(db, call_id)
        assert [s.seq for s in call.ivr_path] == [1, 2]  # in journal order, no duplicates
        assert [s.node for s in call.ivr_path] == ["menu", "czystosc"]
        assert call.ended_at is not None and call.talk_s == 180.0


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "outbox.sqlite3")
    yield j  # type: ignore[misc]
    j.close()


async def test_events_apply_in_order_and_replaying_changes_nothing(
    seeded: Database, journal: Journal
) -> None:
    events = _events(20)
    for event in events:
        await journal.append_async(event)
    journal.append(events[0])  # the same event published twice is journaled once
    assert journal.pending_count() == len(events)
    assert replay(journal, seeded) == len(events)
    _assert_each_landed_once(seeded, events)
    # Crash between the main commit and the journal's mark: everything is pending again.
    with sqlite3.connect(journal.path) as conn:
        conn.execute("UPDATE journal SET applied_at = NULL")
    assert journal.pending_count() == len(events)
    replay(journal, seeded)
    _assert_each_landed_once(seeded, events)
    assert journal.pending_count() == 0


async def test_database_down_calls_go_on_and_backlog_lands_once(
    pg_templates: dict[bool, str], journal: Journal
) -> None:
    # PostgreSQL only: a server that goes away. (SQLite is a local file; it does not.)
    name = conftest.create_pg_database(pg_templates[True])
    try:
        await _down_and_back(conftest.pg_url(name), journal)
    finally:
        conftest.drop_pg_database(name)


async def _down_and_back(seeded_url: str, journal: Journal) -> None:
    relay = TcpRelay(conftest.PG_PORT)  # not started: its port refuses connections
    url = seeded_url.replace(f":{conftest.PG_PORT}/", f":{relay.port}/")
    db = Database(url, pool_size=2)
    writer = OutboxWriter(journal, db, min_backoff_s=0.05, max_backoff_s=0.2)
    writer.start()
    first = _events(10, "down")
    started = time.perf_counter()
    for event in first:
        await journal.append_async(event)
    assert time.perf_counter() - started < 1.0  # appends never wait for the database
    await wait_until("the writer to find the database gone", lambda: writer.last_error)
    assert journal.pending_count() == len(first)
    await relay.start()  # the database is back
    await writer.flushed(timeout=20)
    await wait_until("the writer to see the database back", lambda: writer.last_error is None)
    # It goes away mid-stream, with connections cut, and comes back again.
    await relay.stop()
    second = _events(10, "flap")
    for event in second:
        await journal.append_async(event)
    await wait_until("the writer to find the database gone again", lambda: writer.last_error)
    assert journal.pending_count() > 0
    await relay.start()
    await writer.flushed(timeout=20)
    await writer.stop()
    await relay.stop()
    db.dispose()
    direct = Database(seeded_url)
    _assert_each_landed_once(direct, first + second)
    direct.dispose()


async def test_two_writers_at_once_apply_each_event_once(seeded: Database, journal: Journal) -> None:
    events = _events(40, "pair")
    writers = [OutboxWriter(journal, seeded, batch_size=25) for _ in range(2)]
    for w in writers:
        w.start()
    await asyncio.gather(*(asyncio.wrap_future(journal.submit(e)) for e in events))
    await writers[0].flushed(timeout=30)
    for w in writers:
        await w.stop()
    _assert_each_landed_once(seeded, events)
    assert sum(w.applied for w in writers) == len(events)


async def test_an_unreadable_entry_is_set_aside_and_later_calls_still_land(
    seeded: Database, journal: Journal
) -> None:
    journal.append(_events(1, "before")[0])
    with sqlite3.connect(journal.path) as conn:
        conn.execute(
            "INSERT INTO journal(event_id, kind, payload, appended_at) VALUES (?, ?, ?, ?)",
            ("broken", "call_started", '{"kind": "call_started", "call_id": "x"}', time.time()),
        )
    after = _events(1, "after")
    for event in after:
        journal.append(event)
    replay(journal, seeded)
    assert journal.pending_count() == 0
    assert [eid for eid, _ in journal.failed_entries()] == ["broken"]
    assert "missing field" in journal.failed_entries()[0][1]
    assert get_call(seeded, "after-0").ended_at is not None


async def test_recorder_subscribes_to_the_bus(seeded_url: str, tmp_path: Path) -> None:
    bus = EventBus()
    rec = recorder.start(seeded_url, tmp_path)
    bus.subscribe("crm", recorder.on_event)
    events = _events(3, "bus")
    for event in events:
        bus.publish(event)
    await bus.drain()
    await _stop_and_check(rec, bus, seeded_url, events)


async def test_the_recorder_takes_the_bus_in_batches_one_commit_each_in_order(
        seeded_url: str, tmp_path: Path) -> None:
    """As the center wires it: what was published while the journal was busy reaches it as
    one list, appended in publication order in one commit (one appended_at), and each event
    still lands once in the CRM."""
    bus = EventBus()
    rec = recorder.start(seeded_url, tmp_path)
    bus.subscribe_batches("crm", recorder.on_events)
    events = _events(4, "batch")
    for event in events:  # all published before the subscriber's task first runs
        bus.publish(event)
    await bus.drain()
    conn = sqlite3.connect(rec.journal.path)
    rows = conn.execute("SELECT event_id, appended_at FROM journal ORDER BY seq").fetchall()
    conn.close()
    assert [r[0] for r in rows] == [event_id(e) for e in events]
    assert len({r[1] for r in rows}) == 1, "the batch was committed more than once"
    await _stop_and_check(rec, bus, seeded_url, events)


async def test_writer_in_its_own_process_applies_what_the_recorder_journals(
    seeded_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    rec = recorder.start(seeded_url, tmp_path, run_writer=False)
    events = _events(5, "proc")
    for event in events:
        await rec.on_event(event)
    code = (
        "from pathlib import Path; from ground.settings import Settings; from crm_core import cli; "
        f"cli._outbox_writer(None, Settings(database_url={seeded_url!r}, "
        f"data_dir=Path({str(tmp_path)!r})))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        await rec.writer.flushed(timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    await recorder.stop()
    db = Database(seeded_url)
    _assert_each_landed_once(db, events)
    db.dispose()


async def test_applied_entries_are_pruned_from_the_journal_not_pending_ones(
    seeded: Database, journal: Journal
) -> None:
    events = _events(2, "prune")
    for event in events[:10]:
        journal.append(event)
    replay(journal, seeded)
    for event in events[10:]:
        journal.append(event)
    assert journal.prune(older_than_s=-1) == 10  # applied ones go, however recent
    assert journal.pending_count() == 10  # the not-yet-applied call stays
    replay(journal, seeded)
    _assert_each_landed_once(seeded, events)


async def _stop_and_check(rec: Any, bus: EventBus, url: str, events: list[Any]) -> None:
    """The recorder's writer flushed, the bus and recorder stopped, each event once in the CRM."""
    await rec.writer.flushed(timeout=20)
    await bus.close()
    await recorder.stop()
    db = Database(url)
    _assert_each_landed_once(db, events)
    db.dispose()
