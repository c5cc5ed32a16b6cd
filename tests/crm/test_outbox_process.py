"""The outbox writer as the center runs it under `ckm run`: a child process the center starts,
restarts when it dies and stops with itself (ckm.outbox_process)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ckm.outbox_process import OutboxProcess
from crm_core import recorder
from crm_core.db import Database
from tests.crm.test_outbox import _assert_each_landed_once, _events
from tests.polling import wait_until


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_child_applies_the_journal_survives_a_kill_and_stops_with_the_center(
    seeded_url: str, tmp_path: Path
) -> None:
    rec = recorder.start(seeded_url, tmp_path, run_writer=False)
    writer = OutboxProcess(seeded_url, tmp_path)
    await writer.start()
    first = writer.pid
    assert first is not None
    try:
        before = _events(3, "before")
        for event in before:
            await rec.on_event(event)
        await rec.writer.flushed(timeout=60)

        # The child dies mid-shift: it is started again and what is journaled meanwhile lands.
        os.kill(first, signal.SIGKILL)
        after = _events(3, "after")
        for event in after:
            await rec.on_event(event)
        await wait_until("a new outbox writer process",
                         lambda: writer.pid not in (None, first), timeout_s=30)
        assert writer.restarts == 1
        await rec.writer.flushed(timeout=60)
    finally:
        last = writer.pid
        await writer.stop()
        await recorder.stop()
    assert last is not None and not _alive(last), "the child outlived the center's stop"
    db = Database(seeded_url)
    _assert_each_landed_once(db, before + after)
    db.dispose()
