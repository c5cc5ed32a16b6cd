"""Durable outbox: telephony never waits on the CRM database, and no call event is lost.

Two halves:

- `Journal` — an append-only local journal. It is a separate SQLite file in WAL mode with
  synchronous=FULL, so a committed append survives a process crash *and* a power cut. SQLite
  rather than a home-made JSONL segment file because it gives atomic appends (no torn last
  line to repair), a unique index on the event id (appending the same event twice stores it
  once), an indexed "not yet applied" set, and cheap pruning — all from the stdlib. An fsync
  costs ~0.5 ms here, so appends go through one appender thread that group-commits: all
  appends queued while one fsync runs share the next. The event loop never blocks on disk:
  `await journal.append_async(e)` resumes when `e` is on disk; `journal.append(e)` is the
  blocking form for threads and tools.

- `OutboxWriter` — an asyncio task that reads pending entries in journal order and applies
  them to the main database (SQLite or PostgreSQL) in batches. Each entry carries an event id;
  the main database keeps the ids it has applied (`applied_events`) *in the same transaction*
  as the changes, so replaying the journal — after a crash between the main commit and the
  journal's "applied" mark, or by two writers at once — changes nothing. With the database
  down, appends keep succeeding and the writer retries with exponential backoff; when it comes
  back the backlog is applied in order. An entry that can never apply (malformed payload) is
  set aside with its error rather than blocking the calls behind it. Applied entries are
  pruned after a week. The writer may also run as its own process (`ckm db outbox-writer`,
  with `recorder.start(..., run_writer=False)`), so its CPU work never takes the call
  controller's GIL; the journal is shared through SQLite's WAL.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.models import AppliedEvent, utcnow
from crm_core.services.interactions import CallEventBatch
from ground import events as ev

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS journal ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_id TEXT NOT NULL UNIQUE,"
    " kind TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " appended_at REAL NOT NULL,"
    " applied_at REAL,"
    " failed TEXT)",
    "CREATE INDEX IF NOT EXISTS journal_pending ON journal(seq) WHERE applied_at IS NULL AND failed IS NULL",
)
_INSERT = "INSERT OR IGNORE INTO journal(event_id, kind, payload, appended_at) VALUES (?, ?, ?, ?)"


def _payload(event: ev.DomainEvent) -> tuple[str, str]:
    """(event id, JSON payload). The id is a hash of the content: the same event published
    twice (a controller re-adopting a call after a restart) is journaled and applied once."""
    text = json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32], text


def event_id(event: ev.DomainEvent) -> str:
    return _payload(event)[0]


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    event_id: str
    kind: str
    payload: str


# What waits for an append: a thread (concurrent future) or a coroutine (asyncio future,
# settled on its own loop).
_Waiter = concurrent.futures.Future[str] | asyncio.Future[str]
_Pending = tuple[str, str, str, _Waiter]


def _settle(results: list[tuple[asyncio.Future[str], str | BaseException]]) -> None:
    for future, outcome in results:
        if future.done():
            continue  # the awaiting coroutine was cancelled; the event is journaled anyway
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class Journal:
    """The local append-only journal (see module docstring)."""

    def __init__(self, path: Path, *, max_group: int = 2000) -> None:
        self.path = Path(path)
        self._max_group = max_group
        conn = _connect(self.path)
        for statement in _SCHEMA:
            conn.execute(statement)
        self._conn = conn
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._appender, name="crm-outbox", daemon=True)
        self._thread.start()

    # --- appending

    def submit(self, event: ev.DomainEvent) -> concurrent.futures.Future[str]:
        """Queue `event` for the next group commit; the future gives its id once on disk."""
        if self._closed:
            raise RuntimeError("journal is closed")
        eid, payload = _payload(event)
        future: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._queue.put((eid, event.kind, payload, future))
        return future

    def append(self, event: ev.DomainEvent) -> str:
        """Append durably (blocking until fsynced); returns the event id."""
        return self.submit(event).result()

    async def append_async(self, event: ev.DomainEvent) -> str:
        """Append durably without blocking the event loop."""
        if self._closed:
            raise RuntimeError("journal is closed")
        eid, payload = _payload(event)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.put((eid, event.kind, payload, future))
        return await future

    async def append_all_async(self, events: Sequence[ev.DomainEvent]) -> list[str]:
        """Append several durably, in their order, without blocking the event loop; resumes
        when all are on disk. Queued together, they share the appender's next commit."""
        if self._closed:
            raise RuntimeError("journal is closed")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[str]] = []
        for event in events:
            eid, payload = _payload(event)
            future: asyncio.Future[str] = loop.create_future()
            self._queue.put((eid, event.kind, payload, future))
            futures.append(future)
        return list(await asyncio.gather(*futures))

    def _appender(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            stop = False
            while len(group) < self._max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            self._write_group(group)
            if stop:
                return

    def _write_group(self, group: list[_Pending]) -> None:
        now = time.time()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(_INSERT, [(i, k, p, now) for i, k, p, _ in group])
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            log.exception("outbox journal append failed")
            self._notify([(future, exc) for *_, future in group])
            return
        self._notify([(future, eid) for eid, _, _, future in group])

    @staticmethod
    def _notify(outcomes: list[tuple[_Waiter, str | BaseException]]) -> None:
        """Wake the waiters of a group: one hop per event loop, not one per event."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[str], str | BaseException]]] = {}
        for future, outcome in outcomes:
            if isinstance(future, asyncio.Future):
                by_loop.setdefault(future.get_loop(), []).append((future, outcome))
            elif isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        for loop, results in by_loop.items():
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, results)

    # --- reading (used by writers, each with its own connection)

    def reader(self) -> sqlite3.Connection:
        return _connect(self.path)

    def pending_count(self) -> int:
        conn = self.reader()
        try:
            row = conn.execute(
                "SELECT count(*) FROM journal WHERE applied_at IS NULL AND failed IS NULL"
            ).fetchone()
            return int(row[0])
        finally:
            conn.close()

    def failed_entries(self) -> list[tuple[str, str]]:
        conn = self.reader()
        try:
            rows = conn.execute(
                "SELECT event_id, failed FROM journal WHERE failed IS NOT NULL ORDER BY seq"
            ).fetchall()
            return [(str(a), str(b)) for a, b in rows]
        finally:
            conn.close()

    def prune(self, older_than_s: float = 7 * 86400) -> int:
        """Forget applied entries older than `older_than_s` (the main DB has them)."""
        conn = self.reader()
        try:
            cur = conn.execute(
                "DELETE FROM journal WHERE applied_at IS NOT NULL AND applied_at < ?",
                (time.time() - older_than_s,),
            )
            return cur.rowcount
        finally:
            conn.close()

    def close(self) -> None:
        """Finish queued appends, then stop the appender thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._conn.close()


def _retryable(exc: BaseException) -> bool:
    """Errors that mean 'the database is not reachable now', not 'this event is bad'."""
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
    return isinstance(exc, sa.exc.TimeoutError | ConnectionError | OSError)


class OutboxWriter:
    """Applies journal entries to the main database, in order, exactly once."""

    def __init__(
        self,
        journal: Journal,
        db: Database,
        *,
        batch_size: int = 500,
        idle_poll_s: float = 0.05,
        min_backoff_s: float = 0.1,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.journal = journal
        self.db = db
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.prune_every_s = 3600.0
        self._last_prune = time.monotonic()
        self.applied = 0
        self.skipped = 0
        self.failed = 0
        self.last_error: str | None = None
        self._reader: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        # Held while a batch runs in its worker thread: cancelling the task does not stop the
        # thread, so stop() waits on this before closing what the thread uses.
        self._batch_lock = threading.Lock()

    # --- one batch, synchronous (runs in a worker thread)

    def apply_batch(self) -> int:
        """Apply up to batch_size pending entries; returns how many were taken off the
        journal. Raises the database's error when it is unreachable."""
        with self._batch_lock:
            return self._apply_batch()

    def _apply_batch(self) -> int:
        if self._reader is None:
            self._reader = self.journal.reader()
        rows = self._reader.execute(
            "SELECT seq, event_id, kind, payload FROM journal "
            "WHERE applied_at IS NULL AND failed IS NULL ORDER BY seq LIMIT ?",
            (self.batch_size,),
        ).fetchall()
        if not rows:
            return 0
        entries = [JournalEntry(int(s), str(i), str(k), str(p)) for s, i, k, p in rows]
        try:
            failures = self._apply_fast(entries)
        except Exception as exc:
            if _retryable(exc):
                raise
            # One entry spoils the batch: go one by one, each in a savepoint.
            failures = self._apply_one_by_one(entries)
        now = time.time()
        self._reader.execute("BEGIN IMMEDIATE")
        self._reader.executemany(
            "UPDATE journal SET applied_at = ? WHERE seq = ? AND applied_at IS NULL",
            [(now, e.seq) for e in entries if e.event_id not in failures],
        )
        self._reader.executemany(
            "UPDATE journal SET failed = ? WHERE seq = ?",
            [(msg[:2000], e.seq) for e in entries if (msg := failures.get(e.event_id))],
        )
        self._reader.execute("COMMIT")
        return len(entries)

    def _claim(self, session: Session, entries: Sequence[JournalEntry]) -> set[str]:
        """Record the ids as applied; returns those not applied before (by anyone)."""
        now = utcnow()
        table: sa.Table = AppliedEvent.__table__  # type: ignore[assignment]
        if self.db.dialect == "postgresql":
            # One short statement with array parameters: parsed and prepared once, whatever
            # the batch size (a thousand-row VALUES list would be re-parsed every batch).
            ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))
            kinds = sa.bindparam("kinds", type_=postgresql.ARRAY(sa.String))
            rows = sa.select(
                sa.func.unnest(ids, kinds).table_valued("event_id", "kind").render_derived()
            ).subquery()
            stmt = (
                postgresql.insert(table)
                .from_select(
                    ["event_id", "kind", "applied_at"],
                    sa.select(
                        rows.c.event_id, rows.c.kind, sa.bindparam("at", type_=table.c.applied_at.type)
                    ),
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(table.c.event_id)
            )
            params = {
                "ids": [e.event_id for e in entries],
                "kinds": [e.kind[:40] for e in entries],
                "at": now,
            }
            return set(session.execute(stmt, params).scalars())
        # SQLite: a multi-row VALUES (its statements are parsed in-process, cheaply). The rows
        # are built only here: the PostgreSQL branch above sends two arrays instead.
        values = [
            {"event_id": e.event_id, "kind": e.kind[:40], "applied_at": now}
            for e in entries
        ]  # fmt: skip
        fresh = session.execute(
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(table.c.event_id),
            values,
        ).scalars()
        return set(fresh)

    def _apply_fast(self, entries: list[JournalEntry]) -> dict[str, str]:
        with self.db.writing() as session:
            fresh = self._claim(session, entries)
            todo = [ev.from_dict(json.loads(e.payload)) for e in entries if e.event_id in fresh]
            batch = CallEventBatch(session)
            batch.preload(todo)
            for event in todo:
                batch.apply(event)
            batch.finish()
        self.applied += len(todo)
        self.skipped += len(entries) - len(todo)
        return {}

    def _apply_one_by_one(self, entries: list[JournalEntry]) -> dict[str, str]:
        failures: dict[str, str] = {}
        for entry in entries:
            with self.db.writing() as session:
                if not self._claim(session, [entry]):
                    self.skipped += 1
                    continue
                try:
                    with session.begin_nested():
                        batch = CallEventBatch(session)
                        batch.apply(ev.from_dict(json.loads(entry.payload)))
                        batch.finish()
                except Exception as exc:
                    if _retryable(exc):
                        raise
                    # Claimed but not applied: the entry is parked with its error, visible
                    # through Journal.failed_entries(), instead of blocking every later call.
                    failures[entry.event_id] = f"{type(exc).__name__}: {exc}"
                    log.error("outbox: event %s cannot be applied: %s", entry.event_id, exc)
                    self.failed += 1
                    continue
                self.applied += 1
        return failures

    # --- the asyncio task

    async def run(self) -> None:
        backoff = self.min_backoff_s
        while True:
            try:
                taken = await asyncio.to_thread(self.apply_batch)
            except Exception as exc:
                if not _retryable(exc):
                    log.exception("outbox writer: unexpected error; retrying")
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox writer: database unavailable (%s); retry in %.1fs",
                            type(exc).__name__, backoff)  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if self.last_error is not None:
                log.info("outbox writer: database back, applying backlog")
                self.last_error = None
            backoff = self.min_backoff_s
            if taken == 0:
                if time.monotonic() - self._last_prune > self.prune_every_s:
                    # Applied entries are in the main database; the journal keeps a week.
                    self._last_prune = time.monotonic()
                    await asyncio.to_thread(self.journal.prune)
                await asyncio.sleep(self.idle_poll_s)

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="crm-outbox")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.close_reader)

    def close_reader(self) -> None:
        with self._batch_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    async def flushed(self, timeout: float = 30.0) -> None:
        """Wait until the journal has nothing pending (raises TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while await asyncio.to_thread(self.journal.pending_count):
            if time.monotonic() > deadline:
                raise TimeoutError(f"outbox still has {self.journal.pending_count()} pending")
            await asyncio.sleep(self.idle_poll_s)


def replay(journal: Journal, db: Database) -> int:
    """Apply everything pending synchronously (the `ckm db outbox-flush` tool)."""
    writer = OutboxWriter(journal, db)
    total = 0
    while taken := writer.apply_batch():
        total += taken
    writer.close_reader()
    return total


def journal_path(data_dir: Path) -> Path:
    return data_dir / "crm-outbox.sqlite3"


__all__ = ["Journal", "JournalEntry", "OutboxWriter", "event_id", "journal_path", "replay"]
