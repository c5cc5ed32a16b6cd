"""The screen-pop reads on a connection each thread keeps open (PostgreSQL). Tried: the server
kills that connection between two calls (as a restart or an idle-session timeout would) — the
next screen-pop still answers, on a fresh connection; disposing the database closes the kept
connections."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from crm_core.db import Database, migrate
from crm_core.services import residents
from tests.crm.conftest import ADMIN_DSN, _ensure_postgres, create_pg_database, drop_pg_database, pg_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg() -> Iterator[tuple[Database, str]]:
    _ensure_postgres()
    name = create_pg_database()
    migrate(pg_url(name))
    db = Database(pg_url(name))
    try:
        yield db, name
    finally:
        db.dispose()
        drop_pg_database(name)


def backends(name: str) -> list[int]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        return [int(r[0]) for r in rows]


def test_a_dropped_connection_is_replaced_and_dispose_closes_it(pg: tuple[Database, str]) -> None:
    db, name = pg
    made = residents.create_resident(db, name="Ewa Zielińska", phones=["600 300 400"])
    first = residents.caller_history(db, "+48600300400")
    assert first.resident is not None and first.resident.id == made.id
    held = db._held.conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    assert held in backends(name)

    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (held,)).fetchone() == (True,)

    again = residents.caller_history(db, "600 300 400")
    assert again == first
    fresh = db._held.conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    assert fresh != held and fresh in backends(name)

    db.dispose()
    assert fresh not in backends(name)
