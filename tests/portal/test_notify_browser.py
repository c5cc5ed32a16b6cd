"""In a real Chromium, the loop after the call end to end: a resident reports a pothole on the
portal and asks to be told by e-mail; the center forwards it to ZDM; ZDM's staff member accepts
and resolves it in /dept; a real SMTP server (aiosmtpd, started here) receives the two e-mails
— acceptance, then the answer — with the tracking link, sent by the notification dispatcher
running in the web server's loop as in `ckm run`; the tracking page shows the answer."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiosmtpd.controller import Controller
from playwright.sync_api import expect, sync_playwright

from crm_core.db import Database
from crm_core.models.notifications import Notification
from crm_core.notifications import store
from crm_core.notifications.dispatcher import Dispatcher, DispatchPolicy
from crm_core.notifications.senders import EmailSender, SmtpConfig
from crm_core.services import cases
from crm_core.services.cases import Actor
from ground.settings import Settings
from tests.polling import poll_until

from .conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, free_port, make_app

pytestmark = [pytest.mark.browser]

ANSWER = "Dziura załatana 5 maja; dziękujemy za zgłoszenie."


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"

    def wait_for(self, n: int, timeout: float = 30.0) -> list[EmailMessage]:
        def arrived() -> list[EmailMessage] | None:
            with self.lock:
                return list(self.messages) if len(self.messages) >= n else None

        return poll_until(f"the SMTP server to get {n} messages (has {len(self.messages)})",
                          arrived, timeout)


def _text(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None, kind
    content = part.get_content()
    assert isinstance(content, str)
    return content


@contextmanager
def mailing_center(settings: Settings, db: Database,
                   data_dir: Path) -> Iterator[tuple[web.Application, Inbox]]:
    """The portal and desk app with the notification dispatcher running beside it, sending
    e-mail to a real SMTP server (aiosmtpd on a free port) whose inbox is yielded."""
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    app = make_app(settings, db, data_dir, with_desktop=True)
    dispatcher = Dispatcher(db, email=EmailSender(SmtpConfig(
        host="127.0.0.1", port=smtp_port, sender="Warszawa 19115 <19115@um.test>")),
        policy=DispatchPolicy(poll_s=0.2))

    async def start(_: web.Application) -> None:
        await dispatcher.start()

    async def stop(_: web.Application) -> None:
        await dispatcher.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    try:
        yield app, inbox
    finally:
        smtp.stop()


def test_a_portal_report_by_email_is_told_its_acceptance_and_answer(
    settings: Settings, crm_sqlite: Database, tmp_path: Path
) -> None:
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
            resident.fill("#name", "Anna Nowak")
            resident.fill("#email", "anna.nowak@example.test")
            resident.select_option("#notify_by", "email")
            resident.locator("button[type=submit].primary").click()
            resident.wait_for_url(re.compile(r"/portal/t/[A-Za-z0-9_-]+\?new=1$"))
            found = re.search(r"/portal/t/([A-Za-z0-9_-]+)", resident.url)
            assert found is not None
            token = found.group(1)
            number = resident.locator("#case-number").inner_text().strip()

            # The center forwards it to the department the routing chose (ZDM).
            case = cases.get_case_by_number(crm_sqlite, number)
            assert case.department == "ZDM"
            cases.transition_case(crm_sqlite, case.id, "forwarded", by=Actor("konsultant1"))

            staff = browser.new_page()
            staff.goto(f"{server.base}/login")
            staff.fill("#username", "zdm_pracownik")
            staff.fill("#password", "demo19115")
            staff.click("#login-submit")
            expect(staff).to_have_url(f"{server.base}/dept")
            staff.locator(f'tr[data-case="{number}"] a.case-link').click()
            staff.click("#accept-submit")
            expect(staff.locator("#case-status")).to_have_text("in_progress")
            staff.fill("#resolve-answer", ANSWER)
            staff.click("#resolve-submit")
            expect(staff.locator("#case-status")).to_have_text("resolved")

            accepted, resolved = inbox.wait_for(2)
            link = f"{server.base}/portal/t/{token}"
            for msg in (accepted, resolved):
                assert msg["To"] == "anna.nowak@example.test" and number in msg["Subject"]
                assert link in _text(msg, "plain") and f'href="{link}"' in _text(msg, "html")
            assert "przyjęte do realizacji" in accepted["Subject"]
            assert "Zgłoszenie zostało przyjęte do realizacji" in _text(accepted, "plain")
            assert "załatwione" in resolved["Subject"]
            assert ANSWER in _text(resolved, "plain") and ANSWER in _text(resolved, "html")

            resident.goto(link)
            expect(resident.locator("body")).to_contain_text(ANSWER)
            # Nothing more is queued for the case: no message can follow the two.
            def settled() -> list[str] | None:
                with crm_sqlite.reading() as session:
                    statuses = list(session.scalars(sa.select(Notification.status).where(
                        Notification.case_id == case.id)))
                return statuses if "pending" not in statuses else None

            assert poll_until("the case's notifications to settle", settled, 10) == [
                "sent", "sent"]
            assert len(inbox.messages) == 2  # told once each
        finally:
            browser.close()
