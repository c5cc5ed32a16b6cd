"""The CRM's outbox writer in a process of its own, beside the center that answers calls.

Rules:
- the center only appends to the outbox journal (a fsync, no database work); this child process
  applies the journal to the CRM database (SQLAlchemy, the CPU-heavy part) at a lower CPU
  priority. In the center's process the writer's thread held the GIL for most of its batches,
  and every syscall of the event loop (a socket write, an epoll) then waited up to the 5 ms
  switch interval to get it back: `ckm bench calls` found the loop thread spending a quarter of
  its time in such waits while StasisStart events queued;
- the child gets the database URL and the journal's folder on its command line, not from the
  environment: a center built from a `Settings` object in code has the same child as one
  started from `ckm.toml`;
- a child that dies is started again (after a pause that grows to 10 s); stopping the center
  stops the child (SIGTERM, then SIGKILL after 5 s). Nothing in the journal is lost either
  way: an entry is marked applied in the same transaction that applies it;
- a center that dies without stopping (SIGKILL, a crash) takes its child with it: the child
  reads its stdin, a pipe only the center holds, and stops at end of file. An orphan would go
  on applying the journal beside the next center's writer;
- one writer per journal: the child holds an exclusive lock on `outbox-writer.lock` in the
  journal's folder while it runs, and a second one waits for it rather than applying the same
  entries at the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger("ckm.outbox_process")

NICENESS = 5  # below call control, which runs at the default priority
RESTART_MAX_S = 10.0
LOCK_NAME = "outbox-writer.lock"
LOCK_RETRY_S = 0.5


class OutboxProcess:
    """Starts and watches `python -m ckm.outbox_process` for one database and journal."""

    def __init__(self, db_url: str, data_dir: Path) -> None:
        self.db_url = db_url
        self.data_dir = data_dir
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def start(self) -> None:
        self._stopping = False
        await self._spawn()
        self._watch = asyncio.create_task(self._keep_running(), name="crm-outbox-process")

    async def _spawn(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ckm.outbox_process", "--db-url", self.db_url,
            "--data-dir", str(self.data_dir),
            # Never written to: the child's stdin reaches end of file when this process is gone.
            stdin=asyncio.subprocess.PIPE)
        log.info("outbox writer process started pid=%d", self._proc.pid)

    async def _keep_running(self) -> None:
        pause = 0.5
        while not self._stopping:
            assert self._proc is not None
            code = await self._proc.wait()
            if self._stopping:
                return
            log.error("outbox writer process exited (%s); starting it again in %.1f s",
                      code, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_MAX_S)
            self.restarts += 1
            await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            log.warning("outbox writer process pid=%d ignored SIGTERM; killing it", proc.pid)
            proc.kill()
            await proc.wait()


def _watch_parent(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stop at end of file on stdin: the center that holds the pipe's other end is gone."""
    def readable() -> None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            log.warning("the center that started this writer is gone; stopping")
            stop.set()
    os.set_blocking(0, False)
    loop.add_reader(0, readable)


async def _lock_journal(data_dir: Path, stop: asyncio.Event) -> int | None:
    """The journal's writer lock, waited for; None when told to stop while waiting."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    told = False
    while not stop.is_set():
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not told:
                log.warning("another outbox writer holds %s; waiting for it", data_dir / LOCK_NAME)
                told = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOCK_RETRY_S)
    os.close(fd)
    return None


async def _run(db_url: str, data_dir: Path, *, watch_parent: bool = True) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if watch_parent:
        _watch_parent(loop, stop)
    lock = await _lock_journal(data_dir, stop)
    if lock is None:
        return
    try:
        await _apply_until_stopped(db_url, data_dir, stop)
    finally:
        os.close(lock)  # releases the lock


async def _apply_until_stopped(db_url: str, data_dir: Path, stop: asyncio.Event) -> None:
    from crm_core.db import Database
    from crm_core.outbox import Journal, OutboxWriter, journal_path

    journal = Journal(journal_path(data_dir))
    writer = OutboxWriter(journal, Database(db_url))
    writer.start()
    try:
        await stop.wait()
    finally:
        await writer.stop()
        journal.close()
        writer.db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ckm.outbox_process",
                                     description="apply the CRM's outbox journal continuously")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--no-parent", action="store_true",
                        help="run on its own, not stopping at end of file on stdin")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s outbox-writer %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    asyncio.run(_run(args.db_url, args.data_dir, watch_parent=not args.no_parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
