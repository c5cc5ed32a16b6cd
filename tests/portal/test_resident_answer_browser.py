"""In a real Chromium: a department asks the resident a question and the resident answers it.
The resident reported on the portal choosing e-mail; ZDM's staff member asks in /dept; a real
SMTP server (aiosmtpd) receives the question, whose text — this install receives no mail —
sends the resident to the report's page, not to a phone line; the resident follows the link
from the e-mail, answers in the page's form, and the staff member sees the answer on the card
and the case no longer waits. A post without the form's CSRF token changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from playwright.sync_api import expect, sync_playwright

from crm_core.db import Database
from crm_core.notifications import store
from crm_core.services import cases, department, users
from crm_core.services.cases import Actor
from ground.settings import Settings

from .conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer
from .test_notify_browser import _text, mailing_center

pytestmark = [pytest.mark.browser]

QUESTION = "Czy dziura jest na jezdni, czy na chodniku?"
ANSWER = "Na jezdni, przy samym krawężniku, po stronie parku."


def test_a_residents_answer_on_the_tracking_page_reaches_the_department(
    settings: Settings, crm_sqlite: Database, tmp_path: Path
) -> None:
    store.configure_replies(by_email=False)  # no mail_inbound_port here
    with (mailing_center(settings, crm_sqlite, tmp_path / "data") as (app, inbox),
          LiveServer(app) as server, sync_playwright() as pw):
        store.configure(server.base)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            resident = browser.new_page()
            resident.goto(f"{server.base}/portal/report")
            resident.select_option("#category", "roads.pothole")
            resident.select_option("#district", "Mokotów")
            resident.fill("#address", "Puławska 100")
            resident.fill("#description", "Głęboka dziura przy przejściu dla pieszych")
            resident.fill("#email", "anna.nowak@example.test")
            resident.select_option("#notify_by", "email")
            resident.locator("button[type=submit].primary").click()
            resident.wait_for_url(re.compile(r"/portal/t/[A-Za-z0-9_-]+\?new=1$"))
            number = resident.locator("#case-number").inner_text().strip()
            case = cases.get_case_by_number(crm_sqlite, number)
            cases.transition_case(crm_sqlite, case.id, "forwarded", by=Actor("konsultant1"))

            staff = browser.new_page()
            staff.goto(f"{server.base}/login")
            staff.fill("#username", "zdm_pracownik")
            staff.fill("#password", "demo19115")
            staff.click("#login-submit")
            staff.goto(f"{server.base}/dept/cases/{case.id}")
            staff.fill("#question", QUESTION)
            staff.click("#ask-submit")
            expect(staff.locator("body")).to_contain_text("czeka na mieszkańca")

            [question] = inbox.wait_for(1)
            plain, html = _text(question, "plain"), _text(question, "html")
            assert "prośba o informacje" in question["Subject"] and QUESTION in plain
            assert "19115 i podając" not in plain and "dzwoniąc" not in plain
            assert "Odpowiedzi prosimy udzielić na stronie zgłoszenia" in plain
            assert question["Reply-To"] is None  # nothing would receive a reply here
            found = re.search(r"(http://\S+/portal/t/[A-Za-z0-9_-]+)", plain)
            assert found is not None and f'href="{found.group(1)}"' in html
            link = found.group(1)

            # Without the form's token (another site posting): refused, nothing lands.
            forged = Request(f"{link}/answer", data=urlencode({"answer": "spam"}).encode(),
                             method="POST")
            with pytest.raises(HTTPError) as refused:
                urlopen(forged, timeout=10)
            assert refused.value.code == 403
            scope = department.scope_of(crm_sqlite, users.get_user(crm_sqlite, "zdm_pracownik").id)
            assert department.card(crm_sqlite, scope, case.id).notes == ()

            resident.goto(link)  # the link from the e-mail
            expect(resident.locator("#question-text")).to_have_text(QUESTION)
            resident.click("#answer-submit")  # empty: the browser's own check stops it
            expect(resident.locator("#answer-sent")).to_have_count(0)
            resident.fill("#answer", ANSWER)
            resident.click("#answer-submit")
            expect(resident.locator("#answer-sent")).to_be_visible()
            expect(resident.locator("#answer-form")).to_have_count(0)  # nothing waits now

            staff.reload()
            expect(staff.locator("#notes")).to_contain_text(ANSWER)
            expect(staff.locator("#notes")).to_contain_text("mieszkaniec (strona zgłoszenia)")
            expect(staff.locator("body")).not_to_contain_text("czeka na mieszkańca")
            card = department.card(crm_sqlite, scope, case.id)
            assert [n.text for n in card.notes] == [ANSWER] and not card.awaiting_resident
        finally:
            browser.close()
