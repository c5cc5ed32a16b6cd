"""In a real Chromium: the center forwards a resident's pothole to ZDM; ZDM's staff member logs in
to /dept, finds the case in the inbox with its deadline, accepts it, writes an internal note and
resolves it with an answer; the resident's tracking page (same app, as `ckm run` serves it)
and Open311 show the answer and never the internal note."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from crm_core.db import Database
from crm_core.services import cases
from crm_core.services.cases import Actor, NewCase
from ground.settings import ROOT, Settings

from .conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, make_app

pytestmark = [pytest.mark.browser]

ANSWER = "Ubytek załatany masą na gorąco 5 maja."
SHOTS = ROOT / "var" / "test-artifacts" / "dept"  # for a human look
NOTE = "Ekipa nr 7, koszt 420 zł — do rozliczenia"


def test_department_staff_accept_and_resolve_and_the_resident_reads_the_answer(
    settings: Settings, crm_sqlite: Database, tmp_path: Path
) -> None:
    made = cases.create_case(crm_sqlite, NewCase(
        "roads.pothole", "Głęboka dziura przy przejściu dla pieszych", address="Puławska 100",
        district="Mokotów", lat=52.19, lon=21.01), by=Actor("konsultant1"))
    cases.transition_case(crm_sqlite, made.case.id, "forwarded", by=Actor("konsultant1"))
    number = made.case.number
    app = make_app(settings, crm_sqlite, tmp_path / "data", with_desktop=True)
    with LiveServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(f"{server.base}/login")
            page.fill("#username", "zdm_pracownik")
            page.fill("#password", "demo19115")
            page.click("#login-submit")
            expect(page).to_have_url(f"{server.base}/dept")
            expect(page.locator("#dept-names")).to_have_text("ZDM")
            row = page.locator(f'tr[data-case="{number}"]')
            expect(row).to_be_visible()
            expect(row.locator(".due")).not_to_have_text("—")  # the deadline is shown
            expect(page.locator('#tabs a[data-tab="new"] .badge')).to_have_text("1")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "dept-inbox.png"), full_page=True)
            row.locator("a.case-link").click()

            expect(page.locator("#case-number")).to_contain_text(number)
            expect(page.locator("#description")).to_have_text("Głęboka dziura przy przejściu dla pieszych")
            expect(page.locator("#contact-hidden")).to_be_visible()  # ZDM does not see contacts
            page.click("#accept-submit")
            expect(page.locator("#dept-done")).to_be_visible()
            expect(page.locator("#case-status")).to_have_text("in_progress")
            page.fill("#note", NOTE)
            page.click("#note-submit")
            expect(page.locator("#notes")).to_contain_text(NOTE)
            page.fill("#resolve-answer", ANSWER)
            page.click("#resolve-submit")
            expect(page.locator("#case-status")).to_have_text("resolved")
            expect(page.locator("#history")).to_contain_text(ANSWER)
            expect(page.locator("#actions")).to_have_count(0)  # nothing more to do on it
            page.screenshot(path=str(SHOTS / "dept-case-resolved.png"), full_page=True)

            resident = browser.new_page()  # the resident's browser: no session
            resident.goto(f"{server.base}/portal/t/{made.tracking_token}")
            body = resident.locator("body")
            expect(body).to_contain_text(number)
            expect(body).to_contain_text(ANSWER)
            assert NOTE not in resident.content()
            assert "zdm_pracownik" not in resident.content()
            # Open data (Open311) carries the answer as status_notes, and never the note.
            request_id = number.replace("/", "-")
            with urllib.request.urlopen(f"{server.base}/open311/v2/requests/{request_id}.json") as r:
                raw = r.read().decode()
            found = json.loads(raw)[0]
            assert found["status"] == "closed" and found["status_notes"] == ANSWER
            assert NOTE not in raw
            assert errors == [], errors
        finally:
            browser.close()
