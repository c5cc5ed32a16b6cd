"""The residents' pages as a browser without JavaScript uses them: forms with CSRF, field
errors, the case number and private link, tracking, the knowledge base, languages, headers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy

import portal
from crm_core.db import Database
from crm_core.models import Case, Interaction, Resident, case_interactions
from crm_core.services.cases import Actor, transition_case
from ground.settings import Settings

from .conftest import make_app, tiny_png

Client = TestClient[Any, Any]
PORTAL_DIR = Path(portal.__file__).resolve().parent


async def csrf(client: Client, page: str = "/portal/report") -> str:
    text = await (await client.get(page)).text()
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found is not None
    return found.group(1)


def form(token: str, photo: bytes | None = None, **fields: str) -> FormData:
    data = FormData()
    values = {
        "csrf": token, "category": "waste.illegal_dump", "district": "Wola", "address": "Górczewska 15",
        "description": "Worki ze śmieciami i stare meble za garażami", "lat": "52.2381", "lon": "20.9589",
    }
    values.update(fields)
    for name, value in values.items():
        data.add_field(name, value)
    if photo is not None:
        data.add_field("photo", photo, filename="zdjecie.jpg", content_type="image/jpeg")
    return data


async def submit(client: Client, photo: bytes | None = None, **fields: str) -> Any:
    token = await csrf(client)
    return await client.post("/portal/report", data=form(token, photo, **fields), allow_redirects=False)


async def test_a_report_gets_a_number_and_a_private_link(client: Client, crm: Database) -> None:
    response = await submit(client, photo=tiny_png(), name="Anna Nowak", email="anna@example.pl")
    assert response.status == 303
    link = response.headers["Location"]
    token = re.fullmatch(r"/portal/t/([A-Za-z0-9_-]+)\?new=1", link)
    assert token is not None and len(token.group(1)) >= 22  # ≥128 random bits
    page = await (await client.get(link)).text()
    number = re.search(r'id="case-number">(19115/\d{4}/\d{6})<', page)
    assert number is not None
    assert "Zgłoszenie przyjęte" in page and "Przyjęte" in page
    photo_url = re.search(r'<img class="photo" src="([^"]+)"', page)
    assert photo_url is not None
    photo = await client.get(photo_url.group(1))
    assert photo.status == 200 and photo.content_type == "image/png"  # sniffed, not the claimed JPEG
    with crm.reading() as session:
        case = session.scalar(sa.select(Case).where(Case.number == number.group(1)))
        assert case is not None and case.source_channel == "portal"
        resident = session.get(Resident, case.resident_id)
        assert resident is not None and resident.email == "anna@example.pl"
        channel = session.scalar(
            sa.select(Interaction.channel).join(
                case_interactions, case_interactions.c.interaction_id == Interaction.id
            ).where(case_interactions.c.case_id == case.id))
        assert channel == "portal"
    # The tracking page shows no contact data.
    assert "anna@example.pl" not in page and "Anna Nowak" not in page


async def test_photos_are_stored_outside_the_web_root_under_generated_names(
    settings: Settings, crm_sqlite: Database, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    async with TestClient(TestServer(make_app(settings, crm_sqlite, data_dir))) as client:
        response = await submit(client, photo=tiny_png())
        assert response.status == 303
    files = [p for p in (data_dir / "portal-media").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert re.fullmatch(r"[0-9a-f]{32}\.png", files[0].name)
    assert PORTAL_DIR not in files[0].parents
    assert not list(PORTAL_DIR.rglob("*.png"))


async def test_bad_input_shows_every_field_error_and_writes_nothing(client: Client, crm: Database) -> None:
    response = await submit(
        client, photo=b"<?php system($_GET['c']); ?>" * 10, category="", district="Gotham",
        description="   ", lat="91", lon="", email="not-an-address",
    )
    assert response.status == 400
    page = await response.text()
    for field in ("category", "district", "description", "lat", "photo", "email"):
        assert f'id="{field}-error"' in page, field
    assert "Przyjmujemy tylko zdjęcia JPEG, PNG lub WebP." in page
    assert "Wybierz dzielnicę z listy." in page and "To nie jest adres e-mail." in page
    assert 'aria-invalid="true"' in page
    with crm.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


async def test_oversized_photo_is_refused(client: Client) -> None:
    huge = tiny_png() + b"\0" * (5 * 1024 * 1024)
    response = await submit(client, photo=huge)
    assert response.status == 400
    assert "Zdjęcie jest za duże" in await response.text()


async def test_anonymous_only_where_the_category_allows(client: Client) -> None:
    ok = await submit(client, anonymous="yes", name="X", email="x@example.pl")
    assert ok.status == 303
    refused = await submit(client, category="other.complaint", anonymous="yes")
    assert refused.status == 400
    assert "wymaga e-maila lub telefonu" in await refused.text()
    accepted = await submit(client, category="other.complaint", phone="600 700 800")
    assert accepted.status == 303


async def test_forms_without_the_csrf_token_are_refused(client: Client) -> None:
    await client.get("/portal/report")  # has the cookie, but the form lacks the token
    response = await client.post("/portal/report", data=form("forged"), allow_redirects=False)
    assert response.status == 403
    response = await client.post("/portal/track", data={"number": "19115/2026/000001", "secret": "x"})
    assert response.status == 403


async def test_tracking_by_number_and_code_and_status_changes(client: Client, crm: Database) -> None:
    link = (await submit(client)).headers["Location"]
    token = link.split("/")[-1].split("?")[0]
    page = await (await client.get(link)).text()
    number = re.search(r'id="case-number">([^<]+)<', page)
    assert number is not None
    with crm.reading() as session:
        case_id = session.scalar(sa.select(Case.id).where(Case.number == number.group(1)))
    assert case_id is not None
    transition_case(crm, case_id, "in_progress", by=Actor("konsultant1"), comment="Ekipa BGO w drodze",
                    public=True)

    csrf_token = await csrf(client, "/portal/track")
    wrong = await client.post("/portal/track", data={"csrf": csrf_token, "number": number.group(1),
                                                     "secret": token[:-2] + "xx"})
    assert wrong.status == 404 and "Nie znaleziono" in await wrong.text()
    right = await client.post("/portal/track", data={"csrf": csrf_token, "number": number.group(1),
                                                     "secret": token})
    text = await right.text()
    assert right.status == 200
    assert 'data-status="in_progress"' in text and "W realizacji" in text and "Ekipa BGO w drodze" in text
    assert "konsultant1" not in text  # staff names stay internal
    unknown = await client.get("/portal/t/" + "A" * 22)
    assert unknown.status == 404


async def test_knowledge_base_browse_search_and_article(client: Client) -> None:
    listing = await (await client.get("/portal/kb")).text()
    slugs = re.findall(r'href="/portal/kb/([^"]+)"', listing)
    assert len(slugs) >= 3
    article = await client.get(f"/portal/kb/{slugs[0]}")
    assert article.status == 200
    search = await (await client.get("/portal/kb?q=odpady")).text()
    assert 'href="/portal/kb/' in search
    missing = await client.get("/portal/kb/no-such-article")
    assert missing.status == 404


async def test_english_is_switchable(client: Client) -> None:
    response = await client.get("/portal/lang/en?next=/portal/report", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/portal/report"
    page = await (await client.get("/portal/report")).text()
    assert '<html lang="en">' in page and "Report a problem" in page
    evil = await client.get("/portal/lang/pl?next=//evil.example/", allow_redirects=False)
    assert evil.headers["Location"] == "/portal/"


def _csp(headers: CIMultiDictProxy[str]) -> str:
    return headers["Content-Security-Policy"]


async def test_pages_forbid_inline_scripts_and_label_every_input(client: Client) -> None:
    for path in ("/portal/", "/portal/report", "/portal/track", "/portal/kb", "/portal/call"):
        response = await client.get(path)
        page = await response.text()
        assert "script-src 'self'" in _csp(response.headers) and "unsafe-inline" not in _csp(response.headers)
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"\son[a-z]+=", page), path
        ids = set(re.findall(r'<label for="([^"]+)"', page))
        inputs = re.findall(r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page)
        assert set(inputs) <= ids, (path, set(inputs) - ids)
    call = await client.get("/portal/call")
    assert "ws://" in _csp(call.headers)


async def test_the_browser_call_gets_the_webcall_identity(client: Client, settings: Settings) -> None:
    from ground.phones import derived_secret

    config = await (await client.get("/portal/call/config.json")).json()
    assert config["user"] == "webcall" and config["password"] == derived_secret(settings, "sip:webcall")
    assert config["ws_url"].endswith("/ws") and config["target"].startswith("sip:19115@")
    sipjs = await client.get("/portal/static/vendor/sip.js/index.js")
    assert sipjs.status == 200 and "javascript" in sipjs.content_type


async def test_page_rate_limit_per_ip(settings: Settings, crm_sqlite: Database, tmp_path: Path) -> None:
    app = make_app(settings, crm_sqlite, tmp_path / "data", ip_requests_per_min=5)
    async with TestClient(TestServer(app)) as client:
        statuses = [(await client.get("/portal/")).status for _ in range(7)]
        assert (await client.get("/portal/static/portal.css")).status == 200  # not counted
        assert statuses[:5] == [200] * 5 and statuses[-1] == 429
        limited = await client.get("/portal/")
        assert int(limited.headers["Retry-After"]) >= 1
        api = await client.get("/open311/v2/services.json")
        assert api.status == 429 and (await api.json())[0]["code"] == 429


async def test_a_broken_multipart_body_is_a_400_not_a_crash(client: Client) -> None:
    token = await csrf(client)
    response = await client.post("/portal/report", data=b"--x\r\nnot a part" + token.encode(),
                                 headers={"Content-Type": "multipart/form-data; boundary=y"})
    assert response.status == 400
    assert "Traceback" not in await response.text()


async def test_english_pages_show_english_field_errors(client: Client) -> None:
    await client.get("/portal/lang/en")
    page = await (await submit(client, district="Gotham")).text()
    assert "Unknown Warsaw district" in page and "Please correct the marked fields" in page


async def test_sipjs_is_served_compressed_and_nothing_else_from_node_modules(client: Client) -> None:
    packed = await client.get("/portal/static/vendor/sip.js/api/inviter.js",
                              headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert packed.status == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert "max-age" in packed.headers["Cache-Control"]
    for sneaky in ("../package.json", "..%2F..%2Fpackage.json", "api/../../package.json", "version.d.ts"):
        assert (await client.get(f"/portal/static/vendor/sip.js/{sneaky}")).status == 404, sneaky


async def test_web_reports_show_in_the_callers_history(client: Client, crm: Database) -> None:
    from crm_core.services.residents import caller_history

    first = await submit(client, phone="+48 600 300 400", name="Ewa")
    second = await submit(client, phone="600300400", category="roads.pothole", description="Druga sprawa")
    assert first.status == second.status == 303
    history = caller_history(crm, "600300400")
    assert history.known
    assert [i.channel for i in history.interactions] == ["portal", "portal"]
    assert len(history.open_cases) == 2
