"""How the portal mounts: inside `ckm run` it uses the center's CRM; alone it opens (and
migrates) the database named by the settings itself, and closes it on shutdown."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import portal.wiring
from crm_core.db import Database
from ground.settings import Settings

from .conftest import make_app


async def test_portal_opens_its_own_database_when_the_center_has_none(
    settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'own.sqlite3'}"
    s = dataclasses.replace(settings, data_dir=tmp_path, database_url=url)
    app = web.Application()
    made = portal.wiring.setup(app, s)
    assert isinstance(made.db, Database) and str(made.db.engine.url) == url
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/portal")).status == 200  # redirected to /portal/
        assert (await client.get("/open311/v2/services.json")).status == 200  # migrated, no seed: []


async def test_report_submissions_are_limited_per_address(
    settings: Settings, crm_sqlite: Database, tmp_path: Path
) -> None:
    app = make_app(settings, crm_sqlite, tmp_path / "data", ip_submissions_per_min=2)
    async with TestClient(TestServer(app)) as client:
        text = await (await client.get("/portal/report")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', text)
        assert token is not None
        form = {"csrf": token.group(1), "category": "roads.pothole", "district": "Wola",
                "address": "Wolska 1", "description": "Dziura"}
        answers = [await client.post("/portal/report", data=form, allow_redirects=False) for _ in range(3)]
        # Bursts of half the per-minute rate: one report now, the next in 30 s.
        assert [a.status for a in answers] == [303, 429, 429]
        assert 1 <= int(answers[1].headers["Retry-After"]) <= 30
