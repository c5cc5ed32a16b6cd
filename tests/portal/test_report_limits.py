"""The report form at its limits: a too-long text is named in the page's language only, and a
photo far over the limit (20 MB, above the web server's 12 MB body limit too) brings the form
back with everything typed kept and a clear message, not a bare 413."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from crm_core.db import Database
from crm_core.models import Case
from portal.i18n import field_message

from .conftest import tiny_png
from .test_portal_pages import csrf, submit

Client = TestClient[Any, Any]
MB = 1024 * 1024
TYPED = {
    "category": "waste.illegal_dump", "district": "Wola", "address": "Górczewska 15",
    "location_details": "za garażami od strony parku",
    "description": "Worki ze śmieciami i stare meble, od tygodnia coraz więcej",
    "lat": "52.2381", "lon": "20.9589",
    "name": "Anna Nowak", "email": "anna@example.pl", "phone": "600 700 800",
}


def cases(crm: Database) -> int:
    with crm.reading() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0


def field_error(page: str, name: str) -> str:
    found = re.search(rf'id="{name}-error"[^>]*>(.*?)</', page, re.S)
    assert found is not None, page
    return found.group(1).strip()


async def test_too_long_text_is_named_in_the_pages_language_only(client: Client, crm: Database) -> None:
    polish = await (await submit(client, description="x" * 5001)).text()
    assert field_error(polish, "description") == "Tekst jest za długi: najwyżej 5000 znaków (wpisano 5001)."
    assert "characters" not in polish and "got" not in polish
    await client.get("/portal/lang/en?next=/portal/report", allow_redirects=False)
    english = await (await submit(client, description="x" * 5001)).text()
    assert field_error(english, "description") == (
        "The text is too long: at most 5000 characters (you entered 5001).")
    assert "znaków" not in english and "wpisano" not in english
    assert cases(crm) == 0


def test_every_limit_message_reads_whole_in_each_language() -> None:
    for message in ("at most 200 characters (got 201)", "at most 500 characters (got 9000)",
                    "too large: at most 5 MB"):
        polish, english = field_message(message, "pl"), field_message(message, "en")
        assert not re.search(r"characters|got|at most|large", polish), polish
        assert not re.search(r"znak|wpisano|najwyżej|Zdjęcie", english), english


async def test_line_breaks_count_once_as_the_browser_counted_them(client: Client, crm: Database) -> None:
    # 1250 lines of "abc": 5000 characters in the textarea, 6249 on the wire as CRLF.
    text = "\r\n".join(["abc"] * 1250)
    response = await submit(client, description=text)
    assert response.status == 303, await response.text()
    with crm.reading() as session:
        stored = session.scalar(sa.select(Case.description))
    assert stored == "\n".join(["abc"] * 1250)


def typed_form(token: str, photo: bytes) -> FormData:
    """In the page's order: the photo comes before the contact details."""
    data = FormData()
    data.add_field("csrf", token)
    for name in ("category", "district", "address", "location_details", "lat", "lon", "description"):
        data.add_field(name, TYPED[name])
    data.add_field("photo", photo, filename="IMG_2041.jpg", content_type="image/jpeg")
    for name in ("name", "email", "phone"):
        data.add_field(name, TYPED[name])
    return data


async def test_a_20_mb_photo_brings_the_form_back_with_the_text_kept(client: Client, crm: Database) -> None:
    huge = tiny_png() + b"\0" * (20 * MB)
    for lang, message in (("pl", "Zdjęcie jest za duże: najwyżej 5 MB."),
                          ("en", "The photo is too large: at most 5 MB.")):
        await client.get(f"/portal/lang/{lang}?next=/portal/report", allow_redirects=False)
        token = await csrf(client)
        response = await client.post("/portal/report", data=typed_form(token, huge), allow_redirects=False)
        page = await response.text()
        assert response.status == 400 and response.content_type == "text/html"
        assert field_error(page, "photo").startswith(message)
        for name, value in TYPED.items():
            if name == "category":
                assert f'value="{value}" selected' in page
            elif name == "district":
                assert f"<option selected>{value}</option>" in page
            elif name == "description":
                assert f">{value}</textarea>" in page
            else:
                assert f'value="{value}"' in page, name
        assert page.count('aria-invalid="true"') == 1  # only the photo is wrong
    assert cases(crm) == 0
    # The same form with a photo that fits goes through.
    token = await csrf(client)
    ok = await client.post("/portal/report", data=typed_form(token, tiny_png()), allow_redirects=False)
    assert ok.status == 303, await ok.text()
    assert cases(crm) == 1


async def test_a_6_mb_photo_is_refused_the_same_way(client: Client, crm: Database) -> None:
    response = await submit(client, photo=tiny_png() + b"\0" * (6 * MB), name="Anna Nowak")
    page = await response.text()
    assert response.status == 400
    assert field_error(page, "photo").startswith("Zdjęcie jest za duże: najwyżej 5 MB.")
    assert 'value="Anna Nowak"' in page and cases(crm) == 0
