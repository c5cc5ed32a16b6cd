"""Forwarding by structured e-mail and ckm's inbound mail, on SQLite and PostgreSQL, with real
SMTP on both sides: the department's message goes out through an aiosmtpd server (read back
here), answers come in through ckm's own listener (`crm_core.forwarding.inbound`) from
smtplib, as an MTA would relay them. A department's reply notes, then resolves its case; a
resident's reply to a question lands on the case and ends the wait; a forged or foreign tag,
an unknown sender or no tag at all is quarantined and listed; the same message twice changes
nothing; with the database down the listener answers 451 (the MTA keeps the message)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import smtplib
import socket
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_core import forwarding_cli, mail_tokens
from crm_core.db import Database
from crm_core.forwarding.inbound import InboundServer, list_inbound
from crm_core.forwarding.worker import Forwarder, ForwardPolicy, ReplyAddresses
from crm_core.models import InboundMail, Notification, User
from crm_core.notifications.dispatcher import Dispatcher, DispatchPolicy
from crm_core.notifications.senders import EmailSender, SmtpConfig
from crm_core.services import cases, department, forwarding, residents
from crm_core.services.cases import Actor, NewCase
from ground.settings import Settings
from tests.polling import wait_until

from .test_notifications import SmtpServer, smtp  # noqa: F401  (the real outgoing SMTP server)

SECRET = mail_tokens.secret_from("per-install secret of this test")
REPLIES = ReplyAddresses("Warszawa 19115 <19115@um.test>", SECRET)
DEPT_ADDRESS = "zgloszenia@zdm.example"
RESIDENT = "jan.kowalski@example.pl"
POTHOLE = NewCase("roads.pothole", "Dziura na prawym pasie przed skrzyżowaniem",
                  address="Al. Jerozolimskie 100", district="Ochota", lat=52.2260, lon=20.9920)
FAST = ForwardPolicy(idle_s=0.05, poll_s=0.2, backoff_base_s=0.1, backoff_cap_s=0.3, error_pause_s=0.1)


def sender(port: int) -> EmailSender:
    return EmailSender(SmtpConfig(host="127.0.0.1", port=port, sender="Warszawa 19115 <19115@um.test>",
                                  timeout_s=5))


@pytest.fixture
async def listener(seeded: Database) -> AsyncIterator[InboundServer]:
    server = InboundServer(seeded, SECRET, "127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()


async def until(what: str, check: Callable[[], object], timeout: float = 15.0) -> object:
    # The check reads the database: off the event loop the server under test runs on.
    return await wait_until(what, lambda: asyncio.to_thread(check), timeout, every_s=0.05)


def mail(frm: str, to: str, body: str, *, subject: str = "Re: zgłoszenie",
         message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = frm, to, subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.pl")
    msg.set_content(body)
    return msg


async def deliver(port: int, msg: EmailMessage, envelope_from: str | None = None) -> None:
    """As the city's MTA relays it: smtplib to ckm's listener (on a thread: the listener runs
    on this test's loop)."""
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(msg, from_addr=envelope_from or str(msg["From"]), to_addrs=[str(msg["To"])])

    await asyncio.to_thread(send)


def user_id(db: Database, username: str) -> int:
    with db.reading() as session:
        found = session.scalar(sa.select(User.id).where(User.username == username))
        assert found is not None
        return found


def report(db: Database) -> int:
    resident = residents.create_resident(db, phones=[], name="Jan Kowalski", consent_contact=True,
                                         email=RESIDENT)
    made = cases.create_case(db, dataclasses.replace(POTHOLE, resident_id=resident.id), by=Actor("portal"))
    from crm_core.notifications import store

    store.set_preference(db, made.case.id, "email", RESIDENT, tracking_token=made.tracking_token)
    return made.case.id


async def test_a_case_forwarded_by_email_is_answered_by_replying(
        seeded: Database, smtp: SmtpServer, listener: InboundServer) -> None:  # noqa: F811
    forwarding.configure(seeded, "ZDM", "email", DEPT_ADDRESS)
    case_id = report(seeded)
    number = cases.get_case(seeded, case_id).number
    cases.transition_case(seeded, case_id, "forwarded", by=Actor("konsultant1"))
    worker = Forwarder(seeded, public_base_url="https://19115.example.test", email=sender(smtp.port),
                       replies=REPLIES, policy=FAST)
    await worker.start()
    try:
        await until("the department's e-mail", lambda: smtp.inbox.count() == 1)
    finally:
        await worker.stop()
    [sent] = smtp.inbox.messages
    assert sent["To"] == DEPT_ADDRESS and number in str(sent["Subject"])
    reply_to = str(sent["Reply-To"])
    assert reply_to == mail_tokens.reply_address("19115@um.test", SECRET, "d", case_id)
    body = sent.get_content()
    for line in (f"Numer: {number}", "Adres: Al. Jerozolimskie 100", "Dzielnica: Ochota",
                 "Współrzędne: 52.226000, 20.992000", "ROZWIĄZANE:", "ODRZUCONE:"):
        assert line in body, line
    [row] = forwarding.list_forwards(seeded, case_id=case_id)
    assert row.status == "sent" and row.attempts == 1

    # Anything but a keyword is an internal note; the case keeps its status.
    await deliver(listener.port, mail(DEPT_ADDRESS, reply_to, "Przyjęliśmy, ekipa będzie w czwartek.\n\n"
                                      "> Numer: " + number))
    card = department.card(seeded, department.scope_of(seeded, user_id(seeded, "zdm_pracownik")), case_id)
    assert [(n.by, n.text) for n in card.notes] == [("ZDM (e-mail)", "Przyjęliśmy, ekipa będzie w czwartek.")]
    assert card.status == "forwarded"

    answer = "Ubytek załatano 9 grudnia.\nDziękujemy za zgłoszenie."
    resolved = mail(DEPT_ADDRESS, reply_to, f"Rozwiązane: {answer}\n\nW dniu 8.12.2026 19115 napisał(a):\n"
                    "> Numer: " + number)
    await deliver(listener.port, resolved)
    view = cases.get_case(seeded, case_id)
    assert view.status == "resolved"
    assert (view.history[-1].comment, view.history[-1].public) == (answer, True)
    assert view.history[-1].by == "department:ZDM (e-mail)"
    with seeded.reading() as session:
        kinds = session.scalars(sa.select(Notification.kind).where(Notification.case_id == case_id)).all()
    assert "resolved" in kinds  # the resident is told, as after /dept

    await deliver(listener.port, resolved)  # the MTA delivers the same message again
    assert len(cases.get_case(seeded, case_id).history) == len(view.history)
    assert [r.received[-1].outcome for r in (listener.handler,)] == ["duplicate"]
    assert [m.outcome for m in reversed(list_inbound(seeded, outcome=None))] == ["note", "resolved"]


async def test_forged_foreign_or_missing_tags_and_strangers_are_quarantined(
        seeded: Database, listener: InboundServer, settings: Settings,
        capsys: pytest.CaptureFixture[str]) -> None:
    forwarding.configure(seeded, "ZDM", "email", DEPT_ADDRESS)
    case_id = report(seeded)
    other_id = report(seeded)
    cases.transition_case(seeded, case_id, "forwarded", by=Actor("konsultant1"))
    genuine = mail_tokens.reply_address("19115@um.test", SECRET, "d", case_id)
    local, domain = genuine.split("@")
    mac = local.rsplit("-", 1)[1]
    other_install = mail_tokens.secret_from("another install")
    attempts = {
        "forged": mail(DEPT_ADDRESS, f"19115+d-{case_id}-{'0' * 16}@{domain}", "ROZWIĄZANE: zrobione"),
        "renumbered": mail(DEPT_ADDRESS, f"19115+d-{other_id}-{mac}@{domain}", "ROZWIĄZANE: zrobione"),
        "foreign": mail(DEPT_ADDRESS, mail_tokens.reply_address("19115@um.test", other_install, "d",
                                                                case_id), "ROZWIĄZANE: zrobione"),
        "stranger": mail("ktos@example.org", genuine, "ROZWIĄZANE: zrobione"),
        "resident posing as the department": mail(RESIDENT, genuine, "ROZWIĄZANE: zrobione"),
        "untagged": mail(DEPT_ADDRESS, "19115@um.test", "ROZWIĄZANE: zrobione"),
    }
    for msg in attempts.values():
        await deliver(listener.port, msg)
    assert cases.get_case(seeded, case_id).status == "forwarded"
    assert cases.get_case(seeded, other_id).status == "new"
    held = list_inbound(seeded)
    assert len(held) == len(attempts) and all(m.outcome == "quarantined" and m.case_number is None
                                              for m in held)
    reasons = [m.reason or "" for m in reversed(held)]
    assert reasons[0].startswith("forged or foreign case tag")
    assert reasons[1].startswith("forged or foreign case tag")
    assert reasons[2].startswith("forged or foreign case tag")
    assert reasons[3].startswith("sender ktos@example.org is not the department address")
    assert reasons[4].startswith(f"sender {RESIDENT} is not the department address")
    assert reasons[5] == "no case tag in any recipient address"
    with seeded.reading() as session:  # kept whole, for a supervisor to read
        raw = session.scalars(sa.select(InboundMail.raw)).all()
    assert all(b"ROZWI" in r or b"zrobione" in r for r in raw)

    here = dataclasses.replace(settings, database_url=seeded.url)
    assert forwarding_cli._quarantine(argparse.Namespace(all=False, limit=50, json=False), here) == 0
    out = capsys.readouterr().out
    assert "quarantined" in out and "ktos@example.org" in out and "no case tag" in out


async def test_a_residents_reply_to_the_departments_question_lands_on_the_case(
        seeded: Database, smtp: SmtpServer, listener: InboundServer) -> None:  # noqa: F811
    case_id = report(seeded)
    cases.transition_case(seeded, case_id, "forwarded", by=Actor("konsultant1"))
    staff = department.scope_of(seeded, user_id(seeded, "zdm_pracownik"))
    department.accept(seeded, staff, case_id)
    department.ask_resident(seeded, staff, case_id, "Czy dziura jest na jezdni, czy na chodniku?")
    assert department.card(seeded, staff, case_id).awaiting_resident

    email = sender(smtp.port)
    email.reply_to = lambda item: REPLIES.for_case_key("r", item.key)  # as ckm.assembly sets it
    dispatcher = Dispatcher(seeded, email=email, policy=DispatchPolicy(poll_s=0.05))
    await dispatcher.start()
    try:
        await until("the question and the acceptance", lambda: smtp.inbox.count() == 2)
    finally:
        await dispatcher.stop()
    question = next(m for m in smtp.inbox.messages if "Czy dziura" in m.get_body(("plain",)).get_content())
    reply_to = str(question["Reply-To"])
    assert reply_to == mail_tokens.reply_address("19115@um.test", SECRET, "r", case_id)

    await deliver(listener.port, mail(RESIDENT, reply_to, "Na jezdni, tuż przy krawężniku.\n\n"
                                      "> Czy dziura jest na jezdni, czy na chodniku?"))
    card = department.card(seeded, staff, case_id)
    assert [(n.by, n.text) for n in card.notes] == [
        ("mieszkaniec (e-mail)", "Na jezdni, tuż przy krawężniku.")]
    assert not card.awaiting_resident and card.status == "in_progress"
    # The department's tag is not the resident's: the resident cannot resolve their own case.
    await deliver(listener.port, mail(RESIDENT, mail_tokens.reply_address("19115@um.test", SECRET, "d",
                                                                           case_id), "ROZWIĄZANE: już"))
    assert cases.get_case(seeded, case_id).status == "in_progress"
    assert list_inbound(seeded)[0].outcome == "quarantined"


async def test_with_the_database_down_the_listener_answers_451_and_keeps_nothing_half_done() -> None:
    down = Database("postgresql+psycopg://postgres@127.0.0.1:1/nothing", connect_args={"connect_timeout": 2})
    server = InboundServer(down, SECRET, "127.0.0.1", 0)
    await server.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await deliver(server.port, mail(DEPT_ADDRESS, "19115+d-1-0000000000000000@um.test", "x"))
        assert refused.value.smtp_code == 451
    finally:
        await server.stop()
        down.dispose()


async def test_the_center_wires_reply_tags_and_the_listener_from_its_settings(
        seeded: Database, smtp: SmtpServer, tmp_path: Path) -> None:  # noqa: F811
    """`ckm run`'s assembly: with `mail_inbound_port` set the listener runs, residents' e-mails
    carry their case's reply tag, and a reply through the listener reaches the case."""
    from ckm.assembly import Center, attach_forwarding, attach_notifications
    from crm_core.forwarding import wiring
    from ground.bus import EventBus

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port,
                        smtp_sender="19115 <19115@um.test>", mail_inbound_port=port,
                        ari_password="install secret")
    center = Center(settings=settings, bus=EventBus(), db=seeded)
    await attach_notifications(center)
    await attach_forwarding(center)
    try:
        assert center.extras["inbound_mail"].port == port
        case_id = report(seeded)
        cases.transition_case(seeded, case_id, "forwarded", by=Actor("konsultant1"))
        staff = department.scope_of(seeded, user_id(seeded, "zdm_pracownik"))
        department.ask_resident(seeded, staff, case_id, "Jak duża jest dziura?")
        await until("the question", lambda: smtp.inbox.count() == 1)
        [question] = smtp.inbox.messages
        expected = mail_tokens.reply_address("19115@um.test", wiring.reply_secret(settings), "r", case_id)
        assert str(question["Reply-To"]) == expected
        await deliver(port, mail(RESIDENT, expected, "Około pół metra."))
        assert [n.text for n in department.card(seeded, staff, case_id).notes] == ["Około pół metra."]
    finally:
        await center.close()
