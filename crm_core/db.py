"""Engines, sessions and migrations for the CRM database: SQLite (default, embedded) or
PostgreSQL (production) through psycopg 3.

SQLite runs in WAL mode so the web and the outbox writer read while one writer writes. Its
transactions are started by us, not by the sqlite3 module: write transactions begin with
BEGIN IMMEDIATE, taking the write lock up front, so two writers queue on busy_timeout instead
of failing on a read→write lock upgrade (this is what makes case numbering safe on SQLite).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and pick the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_engine(url: str, **kwargs: Any) -> sa.Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout on the screen-pop path. A dropped
    # connection raises once, SQLAlchemy then invalidates the pool, and callers (the outbox
    # writer) retry; recycling keeps idle connections from outliving server timeouts.
    kwargs.setdefault("pool_recycle", 1800)
    return sa.create_engine(url, **kwargs)


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (see module docstring).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """One CRM database: the engine and the two kinds of session the services use."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_url(url)
        self.engine = create_engine(self.url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        writer = (
            self.engine.execution_options(sqlite_immediate=True) if self.dialect == "sqlite" else self.engine
        )
        # Single-purpose reads on PostgreSQL (the screen-pop) skip BEGIN/ROLLBACK: two round
        # trips saved on a path measured in fractions of a millisecond.
        # Its own small pool of connections that are autocommit from birth: nothing to toggle
        # on checkout and nothing to roll back on return.
        self.autocommit_engine = (
            create_engine(
                self.url,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
                pool_size=engine_kwargs.get("pool_size", 5),
            )
            if self.dialect == "postgresql"
            else self.engine
        )
        # Reads run on the autocommit pool too: each statement sees committed data, and a
        # KB search or a case view costs one round trip per statement, not two more.
        self._read = sessionmaker(self.autocommit_engine, expire_on_commit=False)
        self._held = threading.local()
        self._unit = threading.local()  # the open unit of work of this thread, if any
        self._held_all: set[sa.Connection] = set()
        self._held_lock = threading.Lock()
        self._write = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception. Inside a
        `unit_of_work` of the same thread it is that unit's transaction (nothing commits yet)."""
        held: Session | None = getattr(self._unit, "session", None)
        if held is not None:
            yield held
            return
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction for several service calls made in this thread: each `writing()`
        inside joins it, and they commit together at the end or, on any exception, none of
        them does (a report whose case is refused leaves no resident or contact behind)."""
        held: Session | None = getattr(self._unit, "session", None)
        if held is not None:
            yield held
            return
        with self._write() as session, session.begin():
            self._unit.session = session
            try:
                yield session
            finally:
                self._unit.session = None

    def read_rows(self, statement: sa.Executable, params: dict[str, Any]) -> list[Any]:
        """Run one read statement on a connection kept open per thread: the screen-pop path.

        Checking a connection out of the pool and back in costs about a tenth of the whole
        query there; it runs on a handful of executor threads, so each keeps its own
        (autocommit, so nothing is left open between calls). A connection the server dropped
        (a restart, an idle kill) is replaced and the read tried once more — it is a read, so
        running it again is harmless. On SQLite connections are cheap and file-bound: those
        come from the pool as usual.
        """
        if self.autocommit_engine is self.engine:
            with self.engine.connect() as pooled:
                return list(pooled.execute(statement, params).all())
        for attempt in (1, 2):
            conn = self._held_connection()
            try:
                return list(conn.execute(statement, params).all())
            except sa.exc.DBAPIError as exc:
                self._drop_held(conn)
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def _held_connection(self) -> sa.Connection:
        conn: sa.Connection | None = getattr(self._held, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.autocommit_engine.connect()
            self._held.conn = conn
            with self._held_lock:
                self._held_all.add(conn)
        return conn

    def _drop_held(self, conn: sa.Connection) -> None:
        self._held.conn = None
        with self._held_lock:
            self._held_all.discard(conn)
        conn.close()

    def dispose(self) -> None:
        with self._held_lock:
            held, self._held_all = self._held_all, set()
        for conn in held:
            conn.close()
        self.engine.dispose()
        if self.autocommit_engine is not self.engine:
            self.autocommit_engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (default: the newest schema)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest schema revision this code knows (what `migrate` upgrades to)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "no migrations found"
    return head
