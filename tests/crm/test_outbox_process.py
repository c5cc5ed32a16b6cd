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


_CENTER = """
import asyncio, sys
from pathlib import Path
from ckm.outbox_process import OutboxProcess

async def main() -> None:
    writer = OutboxProcess(sys.argv[1], Path(sys.argv[2]))
    await writer.start()
    print(writer.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_killed_center_takes_its_writer_along_and_one_writer_holds_the_journal(
    seeded_url: str, tmp_path: Path
) -> None:
    """A center SIGKILLed leaves no orphan writer (it would apply the journal beside the next
    center's); while a writer runs, a second one started on the same journal waits for it."""
    import asyncio
    import sys

    center = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CENTER, seeded_url, str(tmp_path),
        stdout=asyncio.subprocess.PIPE)
    assert center.stdout is not None
    child = int((await asyncio.wait_for(center.stdout.readline(), 60)).decode())
    second = OutboxProcess(seeded_url, tmp_path)
    try:
        await wait_until("the first writer holds the journal's lock",
                         lambda: _holds_lock(tmp_path), timeout_s=60)
        await second.start()
        assert second.pid is not None  # up, and waiting for the lock the first one holds

        center.kill()
        await center.wait()
        await wait_until("the killed center's writer exits", lambda: not _alive(child),
                         timeout_s=30)
        # ...and the waiting writer takes the journal over.
        await wait_until("the second writer takes the lock", lambda: _holds_lock(tmp_path),
                         timeout_s=30)
        assert second.pid is not None
    finally:
        await second.stop()
        if center.returncode is None:
            center.kill()
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _holds_lock(folder: Path) -> bool:
    """Whether some process holds the outbox writer's lock in `folder`."""
    import fcntl

    from ckm.outbox_process import LOCK_NAME

    path = folder / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
