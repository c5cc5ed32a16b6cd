"""Fixtures of the CRM tests: every database test runs on SQLite *and* PostgreSQL.

Each test gets its own fresh, migrated database: for PostgreSQL a copy of a template database
migrated once per session (CREATE DATABASE … TEMPLATE is a file copy, fast), for SQLite a copy
of a migrated file. PostgreSQL is started if it is installed but stopped; it is never assumed
absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from crm_core.db import Database, migrate
from tests.polling import poll_until

PG_HOST = os.environ.get("CKM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CKM_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CKM_TEST_PG_USER", "postgres")
ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
ENGINES = ["sqlite", "postgresql"]


def pg_url(name: str, port: int = PG_PORT) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{port}/{name}"


def _ensure_postgres() -> None:
    tries = [0]

    def answers() -> bool:
        try:
            psycopg.connect(ADMIN_DSN, connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            tries[0] += 1
            if tries[0] == 1 and Path("/etc/postgresql").is_dir():  # not running: start it
                version = sorted(os.listdir("/etc/postgresql"))[-1]
                subprocess.run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                    check=False,
                )
            return False

    try:
        poll_until("PostgreSQL to answer", answers, 30, every_s=0.2)
    except AssertionError:
        raise RuntimeError(f"PostgreSQL does not answer at {PG_HOST}:{PG_PORT}") from None


def create_pg_database(template: str | None = None) -> str:
    name = f"ckm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
    return name


def drop_pg_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _seed(url: str) -> None:
    from crm_core.seed import seed

    database = Database(url)
    try:
        seed(database, demo=True)
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def pg_templates() -> Iterator[dict[bool, str]]:
    """Migrated template databases: {False: empty, True: seeded}."""
    _ensure_postgres()
    empty, seeded = create_pg_database(), create_pg_database()
    migrate(pg_url(empty))
    migrate(pg_url(seeded))
    _seed(pg_url(seeded))
    yield {False: empty, True: seeded}
    drop_pg_database(empty)
    drop_pg_database(seeded)


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    base = tmp_path_factory.mktemp("crm-templates")
    found = {}
    for seeded in (False, True):
        path = base / f"ckm-{'seeded' if seeded else 'empty'}.sqlite3"
        migrate(f"sqlite:///{path}")
        if seeded:
            _seed(f"sqlite:///{path}")
        found[seeded] = path
    return found


def _fresh(request: pytest.FixtureRequest, tmp_path: Path, seeded: bool) -> Iterator[str]:
    if request.param == "sqlite":
        templates: dict[bool, Path] = request.getfixturevalue("sqlite_templates")
        path = tmp_path / "ckm.sqlite3"
        shutil.copy(templates[seeded], path)
        yield f"sqlite:///{path}"
        return
    pg: dict[bool, str] = request.getfixturevalue("pg_templates")
    name = create_pg_database(pg[seeded])
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated, empty CRM database."""
    yield from _fresh(request, tmp_path, seeded=False)


@pytest.fixture(params=ENGINES)
def seeded_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh CRM database with the seed data (categories, users, KB…)."""
    yield from _fresh(request, tmp_path, seeded=True)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def seeded(seeded_url: str) -> Iterator[Database]:
    database = Database(seeded_url)
    yield database
    database.dispose()
