"""A consultant's status comment is internal unless marked public: only public ones reach the
resident's tracking page and Open311 `status_notes` (migration 0003 added the flag)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.security import csrf_for
from crm_core.db import Database, create_engine, downgrade, migrate
from crm_core.models import Case
from crm_core.services import users
from crm_core.services.cases import Actor, get_case, transition_case
from ground.settings import Settings

from .conftest import make_app
from .test_open311_conformance import post

Client = TestClient[Any, Any]
INTERNAL = "Sąsiad Jan Nowak dzwonił, to jego sprawa z zarządcą"
PUBLIC = "Ekipa ZDM naprawi dziurę do piątku"


async def _posted(client: Client, crm: Database, api_key: str) -> tuple[int, str, str]:
    posted = (await (await post(client, "json", api_key)).json())[0]
    number = posted["service_request_id"].replace("-", "/")
    with crm.reading() as session:
        case_id = session.scalar(sa.select(Case.id).where(Case.number == number))
    assert case_id is not None
    return case_id, posted["service_request_id"], posted["token"]


async def test_internal_comment_never_reaches_the_resident_or_open_data(
    client: Client, crm: Database, api_key: str
) -> None:
    case_id, request_id, token = await _posted(client, crm, api_key)
    transition_case(crm, case_id, "forwarded", by=Actor("konsultant1"), comment=INTERNAL)
    [row] = await (await client.get(f"/open311/v2/requests/{request_id}.json")).json()
    assert row["status_notes"] is None
    listed = await (await client.get("/open311/v2/requests.xml")).text()
    page = await (await client.get(f"/portal/t/{token}")).text()
    for text in (listed, page):
        assert "Nowak" not in text
    assert "Przekazane do jednostki" in page  # the change itself shows, its remark does not

    transition_case(crm, case_id, "in_progress", by=Actor("konsultant1"), comment=PUBLIC, public=True)
    [row] = await (await client.get(f"/open311/v2/requests/{request_id}.json")).json()
    assert row["status_notes"] == PUBLIC
    page = await (await client.get(f"/portal/t/{token}")).text()
    assert PUBLIC in page and "Nowak" not in page
    history = get_case(crm, case_id).history
    assert [(h.comment, h.public) for h in history[1:]] == [(INTERNAL, False), (PUBLIC, True)]


async def test_desk_api_stores_the_public_flag_internal_by_default(
    settings: Settings, crm: Database, tmp_path: Path, api_key: str
) -> None:
    app = make_app(settings, crm, tmp_path / "data", with_desktop=True)
    async with TestClient(TestServer(app)) as client:
        case_id, request_id, _ = await _posted(client, crm, api_key)
        token = users.open_session(crm, users.get_user(crm, "konsultant1").id)
        headers = {"Cookie": f"ckm_session={token}", "X-CSRF-Token": csrf_for(token)}
        url = f"/desk/api/cases/{case_id}/status"

        desk = await (await client.get("/", headers=headers)).text()
        assert 'id="status-public"' in desk and "otwartych danych" in desk

        refused = await client.post(url, json={"status": "forwarded", "public": "yes"}, headers=headers)
        assert refused.status == 422 and "public" in (await refused.json())["errors"]
        internal = await client.post(url, json={"status": "forwarded", "comment": INTERNAL}, headers=headers)
        assert internal.status == 200, await internal.text()
        card = (await internal.json())["case"]
        assert card["history"][-1]["public"] is False
        public = await client.post(url, json={"status": "in_progress", "comment": PUBLIC, "public": True},
                                   headers=headers)
        assert public.status == 200, await public.text()
        [row] = await (await client.get(f"/open311/v2/requests/{request_id}.json")).json()
        assert row["status_notes"] == PUBLIC


def test_migration_0003_keeps_comments_written_before_it_public(tmp_path: Path) -> None:
    """Comments stored before the flag existed were already shown; the upgrade keeps them so,
    and later rows default to internal."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate(url)
    downgrade(url, "0002")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO categories (id, code, name, is_active) VALUES (1, 'roads', 'Drogi', 1)")
            conn.exec_driver_sql(
                "INSERT INTO cases (id, number, status, category_id, description, priority, "
                "source_channel, tracking_token_hash, created_at, updated_at) VALUES "
                "(1, '19115/2026/000001', 'forwarded', 1, 'd', 2, 'phone', 'h', "
                "'2026-01-01 10:00:00', '2026-01-01 10:00:00')")
            conn.exec_driver_sql(
                "INSERT INTO case_status_history (case_id, from_status, to_status, at, by_label, comment)"
                " VALUES (1, NULL, 'new', '2026-01-01 10:00:00', 'x', NULL),"
                " (1, 'new', 'forwarded', '2026-01-01 11:00:00', 'x', 'do ZDM')")
        migrate(url)
        with engine.connect() as conn:
            flags = conn.exec_driver_sql(
                "SELECT comment, public FROM case_status_history ORDER BY id").all()
        assert [(c, bool(p)) for c, p in flags] == [(None, False), ("do ZDM", True)]
    finally:
        engine.dispose()
