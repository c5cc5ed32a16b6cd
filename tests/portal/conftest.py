"""Fixtures of the portal tests: a seeded CRM on SQLite and PostgreSQL, the portal mounted on an
aiohttp app, an in-process test client, and a live server in a thread for the browser and the
fuzzer."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from psycopg import sql

import portal.wiring
from ckm.runner import MAX_REQUEST_LINE
from crm_core.db import Database, migrate
from crm_core.seed import seed
from crm_core.services.contact_center import create_api_key
from ground.settings import Settings
from portal.config import PortalConfig
from tests.polling import poll_until

PG_HOST = os.environ.get("CKM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CKM_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CKM_TEST_PG_USER", "postgres")
ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
GENEROUS = {"ip_requests_per_min": 1_000_000, "ip_submissions_per_min": 1_000_000}


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def _pg_admin(statement: sql.Composable) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(statement)


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
                subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                               check=False)
            return False

    try:
        poll_until("PostgreSQL to answer", answers, 30, every_s=0.2)
    except AssertionError:
        raise RuntimeError(f"PostgreSQL does not answer at {PG_HOST}:{PG_PORT}") from None


def _seeded(url: str) -> None:
    migrate(url)
    db = Database(url)
    try:
        seed(db, demo=True)
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def sqlite_seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("portal-crm") / "seeded.sqlite3"
    _seeded(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_seeded_template() -> Iterator[str]:
    _ensure_postgres()
    name = f"ckm_portal_tpl_{uuid.uuid4().hex[:10]}"
    _pg_admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _seeded(pg_url(name))
    yield name
    _pg_admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fresh_url(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if engine == "sqlite":
        template: Path = request.getfixturevalue("sqlite_seeded_template")
        path = tmp_path / "ckm.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_seeded_template")
    name = f"ckm_portal_{uuid.uuid4().hex[:12]}"
    _pg_admin(
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_name))
    )
    try:
        yield pg_url(name)
    finally:
        _pg_admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fresh_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    for url in fresh_url(engine, request, tmp_path):
        db = Database(url)
        yield db
        db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh seeded CRM database, on each engine."""
    yield from fresh_database(request.param, request, tmp_path)


@pytest.fixture
def crm_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from fresh_database("sqlite", request, tmp_path)


@pytest.fixture
def crm_pg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from fresh_database("postgresql", request, tmp_path)


def make_app(settings: Settings, db: Database, data_dir: Path, *, with_desktop: bool = False,
             **config: Any) -> web.Application:
    """The portal on an aiohttp app; `with_desktop` mounts the consultants' desktop beside it,
    on the same CRM, as `ckm run` does."""
    s = dataclasses.replace(settings, data_dir=data_dir)
    app = web.Application(client_max_size=12 * 1024 * 1024, handler_args={"max_line_size": MAX_REQUEST_LINE})
    portal.wiring.setup(app, s, db=db,
                        config=PortalConfig.from_settings(s, **{**GENEROUS, **config}))
    if with_desktop:
        import agent_desktop.wiring

        agent_desktop.wiring.setup(app, s, db=db)
    return app


@pytest.fixture
async def client(settings: Settings, crm: Database, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(settings, crm, tmp_path / "data"))) as c:
        yield c


@pytest.fixture
def api_key(crm: Database) -> str:
    return create_api_key(crm, "Aplikacja testowa", rate_limit_per_min=10_000)[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """The portal on a real port, served by its own event loop in a thread (for sync clients:
    Playwright's sync API and the hypothesis fuzzer)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def __enter__(self) -> LiveServer:
        self._thread.start()
        assert self._ready.wait(10), "live server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
]
CHROMIUM = "/usr/bin/chromium"


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG (red square), made here so the test needs no fixture files."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xc8\x00\x2d" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body
