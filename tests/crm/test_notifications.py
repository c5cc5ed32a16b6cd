"""Resident notifications: the rules, and the outbox end to end against a real SMTP server
(aiosmtpd, started here) and a local HTTP server standing in for an SMS gateway."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiosmtpd.controller import Controller

from crm_core import notifications_cli
from crm_core.db import Database
from crm_core.models import Notification
from crm_core.notifications import rules, store
from crm_core.notifications.dispatcher import Dispatcher, DispatchPolicy
from crm_core.notifications.senders import EmailSender, HttpSmsGateway, SmtpConfig
from crm_core.services import cases, residents
from crm_core.services.cases import Actor, NewCase
from ground.settings import Settings
from tests.polling import wait_until

DEPT = Actor("department:ZDM")
POTHOLE = NewCase("roads.pothole", "Dziura na prawym pasie", address="Al. Jerozolimskie 100",
                  district="Ochota")
FAST = DispatchPolicy(batch=50, poll_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.2, max_attempts=50,
                      error_pause_s=0.05)
BASE = "https://19115.example.test"


# --- the pure core


def test_which_status_changes_notify() -> None:
    kind = rules.notification_kind
    assert kind("forwarded", "in_progress") == "accepted"
    assert kind("resolved", "in_progress") == "accepted"
    assert kind("in_progress", "resolved") == "resolved"
    assert kind("forwarded", "rejected") == "rejected"
    assert kind("new", "closed", duplicate=True) == "duplicate"
    assert kind("new", "forwarded") is None
    assert kind(None, "new") is None
    assert kind("resolved", "closed") is None
    assert kind("resolved", "closed", duplicate=True) is None
    assert kind("in_progress", "in_progress", public_note=True) == "question"
    assert kind("in_progress", "in_progress") is None


def test_consent_withdrawn_wins_over_a_chosen_channel() -> None:
    assert rules.may_contact("email", "a@b.pl", None)
    assert rules.may_contact("email", "a@b.pl", True)
    assert not rules.may_contact("email", "a@b.pl", False)
    assert not rules.may_contact(None, "a@b.pl", True)
    assert not rules.may_contact("sms", "", True)


@pytest.mark.parametrize(("lang", "phrase"), [("pl", "Sprawa została załatwiona"),
                                              ("en", "It has been resolved"),
                                              ("uk", "Справу вирішено"),
                                              ("de", "Sprawa została załatwiona")])
def test_messages_in_the_residents_language_with_the_link(lang: str, phrase: str) -> None:
    out = rules.render(rules.MessageContext(
        kind="resolved", language=lang, case_number="19115/2026/000007", category="Drogi",
        place="Marszałkowska 1", note="Załatano <dziurę> & posprzątano", tracking_url=f"{BASE}/portal/t/abc",
    ))
    assert phrase in out.text and "19115/2026/000007" in out.subject
    assert f"{BASE}/portal/t/abc" in out.text and f'href="{BASE}/portal/t/abc"' in out.html
    assert "Załatano <dziurę> & posprzątano" in out.text
    assert "Załatano &lt;dziurę&gt; &amp; posprzątano" in out.html and "<dziurę>" not in out.html
    assert out.sms.endswith(f"{BASE}/portal/t/abc") and len(out.sms) < 480


def test_backoff_grows_and_is_capped() -> None:
    delays = [rules.backoff_s(n, base=30, cap=600) for n in range(1, 8)]
    assert delays == [30, 60, 120, 240, 480, 600, 600]


# --- a real SMTP server


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _sender(port: int) -> EmailSender:
    return EmailSender(SmtpConfig(host="127.0.0.1", port=port, sender="Warszawa 19115 <19115@um.test>",
                                  timeout_s=5))


def _report(db: Database, *, channel: str = "email", address: str = "jan@example.test",
            language: str = "pl", consent: bool = True) -> cases.CreatedCase:
    resident = residents.create_resident(db, phones=[], name="Jan Kowalski", consent_contact=consent,
                                         email=address if channel == "email" else None)
    made = cases.create_case(db, dataclasses.replace(POTHOLE, resident_id=resident.id), by=Actor("portal"))
    store.set_preference(db, made.case.id, channel, address, language=language,
                         tracking_token=made.tracking_token)
    return made


def _accept_and_resolve(db: Database, case_id: int, answer: str = "Ubytek uzupełniony.") -> None:
    cases.transition_case(db, case_id, "forwarded", by=Actor("konsultant1"))
    cases.transition_case(db, case_id, "in_progress", by=DEPT)
    cases.transition_case(db, case_id, "resolved", by=DEPT, comment=answer, public=True)


async def _until(check: Any, timeout: float = 20.0) -> None:
    await wait_until("the notifications' condition", check, timeout)


def _rows(db: Database) -> list[Notification]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Notification).order_by(Notification.id)).all())


async def test_accepted_and_resolved_reach_the_smtp_server_as_text_and_html(
        seeded: Database, smtp: SmtpServer) -> None:
    store.configure(BASE)
    made = _report(seeded, language="en")
    dispatcher = Dispatcher(seeded, email=_sender(smtp.port), policy=FAST)
    await dispatcher.start()
    try:
        _accept_and_resolve(seeded, made.case.id, "Pothole <filled>.")
        await _until(lambda: smtp.inbox.count() >= 2)
    finally:
        await dispatcher.stop()
    accepted, resolved = smtp.inbox.messages
    link = f"{BASE}/portal/t/{made.tracking_token}"
    for msg in (accepted, resolved):
        assert msg["To"] == "jan@example.test" and "19115@um.test" in msg["From"]
        assert msg["Content-Language"] == "en" and made.case.number in msg["Subject"]
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text is not None and html is not None
        assert link in text.get_content() and f'href="{link}"' in html.get_content()
    accepted_text = accepted.get_body(("plain",))
    assert accepted_text is not None and "working on it" in accepted_text.get_content()
    assert "accepted" in accepted["Subject"]
    resolved_text, resolved_html = resolved.get_body(("plain",)), resolved.get_body(("html",))
    assert resolved_text is not None and resolved_html is not None
    body = resolved_text.get_content()
    assert "It has been resolved" in body and "Pothole <filled>." in body
    assert "Pothole &lt;filled&gt;." in resolved_html.get_content()
    rows = _rows(seeded)
    assert [(r.kind, r.status, r.attempts) for r in rows] == [("accepted", "sent", 1),
                                                              ("resolved", "sent", 1)]
    assert all(r.sent_at is not None and r.last_error is None for r in rows)
    # Forwarding told the resident nothing: it is the center's own step.
    assert {r.kind for r in rows} == {"accepted", "resolved"}


async def test_smtp_down_during_a_burst_then_every_notification_arrives_exactly_once(
        seeded: Database, smtp: SmtpServer) -> None:
    store.configure(BASE)
    smtp.stop()
    made = [_report(seeded, address=f"r{i}@example.test") for i in range(12)]
    dispatcher = Dispatcher(seeded, email=_sender(smtp.port), policy=FAST)
    await dispatcher.start()
    try:
        for m in made:  # the burst, while no SMTP server listens
            await asyncio.to_thread(_accept_and_resolve, seeded, m.case.id)
        await _until(lambda: all(r.attempts >= 2 for r in _rows(seeded)))
        rows = _rows(seeded)
        assert len(rows) == 24 and not any(r.status == "sent" for r in rows)
        assert all(r.last_error and "SMTP" in r.last_error for r in rows)
        smtp.start()
        await _until(lambda: all(r.status == "sent" for r in _rows(seeded)))
    finally:
        await dispatcher.stop()
    # stop() let the round in flight finish, and every row is marked sent, so no later round
    # could claim one again: whatever was sent twice is in the inbox now.
    ids = [m["Message-ID"] for m in smtp.inbox.messages]
    assert len(ids) == 24 and len(set(ids)) == 24
    assert sorted(m["To"] for m in smtp.inbox.messages) == sorted(
        f"r{i}@example.test" for i in range(12) for _ in range(2))


async def test_a_resident_who_asked_not_to_be_contacted_receives_nothing(
        seeded: Database, smtp: SmtpServer) -> None:
    store.configure(BASE)
    refused = _report(seeded, address="nie@example.test", consent=False)
    anonymous = cases.create_case(seeded, POTHOLE, by=Actor("portal"))  # chose no channel
    dispatcher = Dispatcher(seeded, email=_sender(smtp.port), policy=FAST)
    await dispatcher.start()
    try:
        _accept_and_resolve(seeded, refused.case.id)
        _accept_and_resolve(seeded, anonymous.case.id)
        # A whole round after both commits (beside the dispatcher's own): nothing to send.
        assert await dispatcher.run_once() == 0
    finally:
        await dispatcher.stop()
    assert smtp.inbox.count() == 0 and _rows(seeded) == []


def test_a_bounced_address_is_failed_with_its_error_and_listed(
        seeded: Database, seeded_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An SMTP 550 for the recipient fails the notification for good, visible with its error."""

    class Refusing(Inbox):
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                              rcpt_options: Any) -> str:
            return "550 5.1.1 no such mailbox"

    port = _free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        made = _report(seeded, address="gone@example.test")
        _accept_and_resolve(seeded, made.case.id)
        dispatcher = Dispatcher(seeded, email=_sender(port), policy=FAST)
        assert asyncio.run(dispatcher.run_once()) == 2
    finally:
        controller.stop()
    failed = store.list_notifications(seeded, status="failed")
    assert len(failed) == 2 and all("550" in (f.last_error or "") for f in failed)
    assert failed[0].case_number == made.case.number
    assert store.counts(seeded) == {"failed": 2}
    # What a supervisor sees: `ckm notifications list --failed`.
    settings = Settings(database_url=seeded_url, data_dir=tmp_path)
    parser = argparse.ArgumentParser(prog="ckm")
    notifications_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["notifications", "list", "--failed", "--json"])
    assert args.handler(args, settings) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["counts"] == {"failed": 2}
    assert [(n["case"], n["status"], n["to"]) for n in listed["notifications"]] == [
        (made.case.number, "failed", "gone@example.test")] * 2
    assert all("550 5.1.1 no such mailbox" in n["last_error"] for n in listed["notifications"])
    args = parser.parse_args(["notifications", "list"])
    assert args.handler(args, settings) == 0
    assert "failed: 2" in capsys.readouterr().out
    assert store.retry(seeded, all_failed=True) == 2
    assert store.counts(seeded) == {"pending": 2}


def test_enqueueing_is_part_of_the_status_change_and_idempotent(seeded: Database) -> None:
    made = _report(seeded)
    cases.transition_case(seeded, made.case.id, "forwarded", by=Actor("konsultant1"))
    with pytest.raises(RuntimeError), seeded.writing() as session:
        case = session.get(cases.Case, made.case.id)
        assert case is not None
        cases._set_status(case, cases.S.FORWARDED, cases.S.IN_PROGRESS, DEPT, None, cases.utcnow())
        raise RuntimeError("the status change rolls back")
    assert _rows(seeded) == [] and cases.get_case(seeded, made.case.id).status == "forwarded"
    cases.transition_case(seeded, made.case.id, "in_progress", by=DEPT)
    with seeded.writing() as session:
        case = session.get(cases.Case, made.case.id)
        assert case is not None
        change = case.history[-1]
        store.on_status_change(case, change)  # the same change again: stored once
    assert [r.kind for r in _rows(seeded)] == ["accepted"]


def test_the_departments_question_goes_by_the_residents_channel(seeded: Database) -> None:
    from crm_core.services import department

    made = _report(seeded, language="uk")
    cases.transition_case(seeded, made.case.id, "forwarded", by=Actor("konsultant1"))
    admin = department.scope_of(seeded, _user_id(seeded, "admin"))
    department.ask_resident(seeded, admin, made.case.id, "Який номер будинку?")
    (row,) = _rows(seeded)
    assert row.kind == "question" and row.language == "uk" and "Який номер будинку?" in row.body_text
    assert "Запитання" in row.body_text and made.case.number in row.subject


def _user_id(db: Database, username: str) -> int:
    from crm_core.models import User

    with db.reading() as session:
        found = session.scalar(sa.select(User.id).where(User.username == username))
        assert found is not None
        return int(found)


def test_enqueue_question_is_idempotent_per_question(seeded: Database) -> None:
    made = _report(seeded, language="uk")
    with seeded.writing() as session:
        case = session.get(cases.Case, made.case.id)
        assert case is not None
        assert store.enqueue_question(session, case, "Який номер будинку?", ref="q1") == 1
        assert store.enqueue_question(session, case, "Який номер будинку?", ref="q1") == 0
    (row,) = _rows(seeded)
    assert row.kind == "question" and row.language == "uk" and "Який номер будинку?" in row.body_text


# --- the SMS gateway adapter against a local HTTP server


async def test_sms_through_the_http_gateway(seeded: Database) -> None:
    store.configure(BASE)
    seen: list[tuple[dict[str, str], Any]] = []
    answers = iter([503])

    async def receive(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.json()))
        status = next(answers, 200)
        return web.json_response({"id": len(seen)} if status == 200 else {"error": "nope"}, status=status)

    app = web.Application()
    app.router.add_post("/api/sms", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    made = _report(seeded, channel="sms", address="+48600100200")
    dispatcher = Dispatcher(seeded, sms=HttpSmsGateway(f"http://127.0.0.1:{port}/api/sms", "s3cret"),
                            policy=DispatchPolicy(batch=1, poll_s=0.05, backoff_base_s=0.05,
                                                  backoff_cap_s=0.1))
    await dispatcher.start()
    try:
        _accept_and_resolve(seeded, made.case.id, "Naprawione.")
        # 503 → retried; 200 → sent; 200 → sent
        await _until(lambda: [r.status for r in _rows(seeded)] == ["sent", "sent"])
    finally:
        await dispatcher.stop()
        await runner.cleanup()
    assert len(seen) == 3
    for headers, body in seen:
        assert headers["Authorization"] == "Bearer s3cret"
        assert body["to"] == "+48600100200" and body["reference"] == headers["Idempotency-Key"]
        assert f"{BASE}/portal/t/{made.tracking_token}" in body["text"]
    refs = [body["reference"] for _, body in seen]
    retried = seen[0][1]
    assert refs.count(retried["reference"]) == 2 and len(set(refs)) == 2  # the retry: the same message
    assert [b for _, b in seen if b["reference"] == retried["reference"]] == [retried, retried]
    texts = {b["text"] for _, b in seen}
    assert any("Naprawione." in t and "załatwione" in t for t in texts)
    assert sorted(r.attempts for r in _rows(seeded)) == [1, 2]


def test_ckm_settings_masks_the_smtp_password_and_the_gateway_token() -> None:
    shown = Settings(smtp_host="mail.um.test", smtp_password="hunter2", sms_gateway_token="tok",
                     public_base_url="https://19115.um.warszawa.pl/").public()
    assert shown["smtp_password"] == "********" and shown["sms_gateway_token"] == "********"
    assert shown["smtp_host"] == "mail.um.test" and shown["smtp_port"] == "25"
    assert Settings(public_base_url="https://19115.um.warszawa.pl/").public_url == "https://19115.um.warszawa.pl"
    assert Settings(web_port=8080).public_url == "http://127.0.0.1:8080"


async def test_the_consultants_form_records_the_choice_and_the_consent(seeded: Database) -> None:
    """On the phone the resident asks to be told by SMS: the desk's case form records the channel
    with the number on file and the resident's language, and that is their consent."""
    from agent_desktop.crm import Crm
    from crm_core.errors import ValidationError

    resident = residents.create_resident(seeded, phones=["600 100 300"], name="Olena",
                                         preferred_language="uk", consent_contact=False)
    desk = Crm(seeded)
    draft = dataclasses.replace(POTHOLE, resident_id=resident.id)
    with pytest.raises(ValidationError) as refused:
        await desk.create_case(draft, Actor("konsultant1"), None, ("email", None))  # no e-mail on file
    assert "notify_to" in refused.value.fields and cases.list_cases(seeded) == []
    made = await desk.create_case(draft, Actor("konsultant1"), None, ("sms", None))
    with seeded.reading() as session:
        from crm_core.models import CaseNotifyPreference, Resident

        pref = session.get(CaseNotifyPreference, made["id"])
        assert pref is not None
        assert (pref.channel, pref.address, pref.language) == ("sms", "+48600100300", "uk")
        assert pref.tracking_token
        found = session.get(Resident, resident.id)
        assert found is not None and found.consent_contact is True
    cases.transition_case(seeded, made["id"], "forwarded", by=Actor("konsultant1"))
    cases.transition_case(seeded, made["id"], "rejected", by=DEPT, comment="To nie nasz teren.", public=True)
    (row,) = _rows(seeded)
    assert (row.kind, row.channel, row.to_address) == ("rejected", "sms", "+48600100300")
    assert "відхилено" in row.body_text and "To nie nasz teren." in row.body_text and row.body_html is None


async def test_two_dispatchers_share_the_outbox_and_never_send_one_twice(
        seeded: Database, seeded_url: str, smtp: SmtpServer) -> None:
    """Two dispatchers (each with its own engine, as two processes would have) drain one outbox:
    PostgreSQL hands each row to one of them (SKIP LOCKED), SQLite's write lock serialises the
    claims. Every message arrives exactly once."""
    store.configure(BASE)
    made = [_report(seeded, address=f"p{i}@example.test") for i in range(20)]
    for m in made:
        _accept_and_resolve(seeded, m.case.id)
    other = Database(seeded_url)
    small = dataclasses.replace(FAST, batch=5, smtp_connections=2)
    first = Dispatcher(seeded, email=_sender(smtp.port), policy=small)
    second = Dispatcher(other, email=_sender(smtp.port), policy=small)
    await first.start()
    await second.start()
    try:
        await _until(lambda: smtp.inbox.count() >= 40)
        # Every row marked sent: no round can claim one again; stop() lets those in flight end.
        await _until(lambda: {r.status for r in _rows(seeded)} == {"sent"})
    finally:
        await first.stop()
        await second.stop()
        other.dispose()
    ids = [m["Message-ID"] for m in smtp.inbox.messages]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert first.sent + second.sent == 40
    assert {r.status for r in _rows(seeded)} == {"sent"}


async def test_the_at_least_once_edge_a_lost_sent_mark_resends_with_the_same_message_id(
        seeded: Database, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SMTP server accepted the message, then the database would not take the `sent` mark
    (down, or ckm died): the claim's lease runs out and the message goes again — the documented
    at-least-once edge — with the same Message-ID, so a de-duplicating receiver keeps one."""
    store.configure(BASE)
    made = _report(seeded)
    cases.transition_case(seeded, made.case.id, "forwarded", by=Actor("konsultant1"))
    cases.transition_case(seeded, made.case.id, "in_progress", by=DEPT)
    real_record = store.record
    calls = {"n": 0}

    def record_fails_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sa.exc.OperationalError("UPDATE notifications", {}, Exception("database is down"))
        real_record(*args, **kwargs)

    monkeypatch.setattr(store, "record", record_fails_once)
    dispatcher = Dispatcher(seeded, email=_sender(smtp.port),
                            policy=dataclasses.replace(FAST, lease_s=0.5))
    await dispatcher.start()
    try:
        await _until(lambda: [r.status for r in _rows(seeded)] == ["sent"])
    finally:
        await dispatcher.stop()
    first, second = smtp.inbox.messages
    assert first["Message-ID"] == second["Message-ID"]
    (row,) = _rows(seeded)
    assert row.attempts == 2 and row.sent_at is not None


async def test_the_center_runs_the_dispatcher_from_its_settings(
        seeded: Database, smtp: SmtpServer, tmp_path: Path) -> None:
    """`assemble` attaches the dispatcher (crm_core.notifications.wiring) with the SMTP settings and
    public_base_url; the center's close stops it."""
    from ckm.assembly import Center, attach_notifications
    from ground.bus import EventBus

    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port,
                        smtp_sender="19115 <19115@um.test>", public_base_url="https://19115.um.test/")
    center = Center(settings=settings, bus=EventBus(), db=seeded)
    await attach_notifications(center)
    dispatcher = center.notifications
    assert dispatcher is not None
    assert dispatcher.channels == ("email",)
    try:
        made = _report(seeded)
        cases.transition_case(seeded, made.case.id, "forwarded", by=Actor("konsultant1"))
        cases.transition_case(seeded, made.case.id, "in_progress", by=DEPT)
        await _until(lambda: smtp.inbox.count() == 1)
    finally:
        await center.close()
    assert dispatcher._task is None
    (msg,) = smtp.inbox.messages
    text = msg.get_body(("plain",))
    assert text is not None
    assert f"https://19115.um.test/portal/t/{made.tracking_token}" in text.get_content()


async def test_the_consultant_sees_whether_the_resident_was_told(seeded: Database) -> None:
    from agent_desktop.crm import Crm

    made = _report(seeded)
    desk = Crm(seeded)
    card = await desk.find_case(case_id=made.case.id)
    assert card["notifications"] == []
    await desk.change_status(made.case.id, "forwarded", None, Actor("konsultant1"))
    card = await desk.change_status(made.case.id, "in_progress", None, DEPT)
    assert [(n["kind"], n["channel"], n["status"]) for n in card["notifications"]] == [
        ("accepted", "email", "pending")]
    with seeded.writing() as session:
        session.execute(sa.update(Notification).values(status="failed", last_error="SMTP 550 no"))
    card = await desk.find_case(number=made.case.number)
    assert card["notifications"][0]["status"] == "failed"
    assert card["notifications"][0]["last_error"] == "SMTP 550 no"


def test_a_round_past_its_deadline_leaves_the_rest_for_the_next(smtp: SmtpServer) -> None:
    from datetime import UTC, datetime

    def item(i: int) -> store.Outgoing:
        return store.Outgoing(i, f"case:1:status:{i}:email", "email", f"d{i}@example.test", "pl", "S",
                              "text", None, 1, datetime.now(UTC))

    outcomes = _sender(smtp.port).send_batch([item(1), item(2)], deadline=time.monotonic() - 1)
    assert [o.ok for o in outcomes] == [False, False] and not any(o.permanent for o in outcomes)
    assert "ran out of time" in (outcomes[1].error or "") and smtp.inbox.count() == 0
    assert [o.ok for o in _sender(smtp.port).send_batch([item(3)])] == [True]
