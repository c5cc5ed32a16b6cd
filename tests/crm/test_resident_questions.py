"""A department's question to the resident, on SQLite and PostgreSQL: the message tells the
resident how to answer in a way that works for this install (reply to the e-mail only when ckm
receives mail; otherwise, and always, the report's page), and an answer typed on the page —
authorised by the tracking token — lands on the case once and ends the wait."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.forwarding import answers, wiring
from crm_core.models import Notification, User
from crm_core.notifications import rules, store
from crm_core.notifications.senders import EmailSender, SmtpConfig
from crm_core.services import cases, department
from crm_core.services.cases import Actor, NewCase
from ground.settings import Settings

POTHOLE = NewCase("roads.pothole", "Dziura przy przejściu", address="Puławska 10", district="Mokotów")
ADDRESS = "anna.nowak@example.test"


@pytest.fixture(autouse=True)
def replies_off() -> Iterator[None]:
    store.configure_replies(by_email=False)
    yield
    store.configure_replies(by_email=False)


def _asked(db: Database, question: str, *, channel: str = "email",
           address: str = ADDRESS) -> tuple[int, str, department.Scope]:
    made = cases.create_case(db, POTHOLE, by=Actor("portal"))
    store.set_preference(db, made.case.id, channel, address, tracking_token=made.tracking_token)
    cases.transition_case(db, made.case.id, "forwarded", by=Actor("konsultant1"))
    with db.reading() as session:
        staff_id = session.scalar(sa.select(User.id).where(User.username == "zdm_pracownik"))
    assert staff_id is not None
    zdm = department.scope_of(db, staff_id)
    department.ask_resident(db, zdm, made.case.id, question)
    return made.case.id, made.tracking_token, zdm


def _question(db: Database, case_id: int) -> Notification:
    with db.reading() as session:
        row = session.scalar(sa.select(Notification).where(
            Notification.case_id == case_id, Notification.kind == "question"))
        assert row is not None
        return row


def test_the_question_says_how_to_answer_in_every_language() -> None:
    url = "https://19115.example/portal/t/abc"
    for lang, page, mail in (
            ("pl", "Odpowiedzi prosimy udzielić na stronie zgłoszenia", "odpowiedzieć na tę wiadomość"),
            ("en", "Please answer on the report's page", "Just reply to this e-mail"),
            ("uk", "дайте відповідь на сторінці звернення", "дайте відповідь на цей лист")):
        for by_email, wanted in ((False, page), (True, mail)):
            out = rules.render(rules.MessageContext(
                kind="question", language=lang, case_number="19115/2026/000001", category="Dziura",
                place=None, note="Która strona ulicy?", tracking_url=url, reply_by_email=by_email))
            assert wanted in out.text and wanted in out.html.replace("&#x27;", "'")
            assert url in out.text and "19115 i podając" not in out.text
            assert "calling 19115" not in out.text
        assert out.sms.endswith(f" {url}") and "Która strona ulicy?" in out.sms
    # Other messages say nothing about answering.
    resolved = rules.render(rules.MessageContext(
        kind="resolved", language="en", case_number="19115/2026/000001", category="Dziura",
        place=None, note="Done.", tracking_url=url, reply_by_email=True))
    assert "reply to this e-mail" not in resolved.text and "answer on the report" not in resolved.text


def test_the_text_follows_whether_ckm_receives_mail(seeded: Database, tmp_path: Path) -> None:
    email = EmailSender(SmtpConfig(host="127.0.0.1", port=25, sender="19115 <19115@um.test>"))
    wiring.resident_reply_to(Settings(data_dir=tmp_path, smtp_sender="19115 <19115@um.test>"), email)
    case_id, token, _ = _asked(seeded, "Po której stronie jezdni?")
    row = _question(seeded, case_id)
    assert "Odpowiedzi prosimy udzielić na stronie zgłoszenia" in row.body_text
    assert f"/portal/t/{token}" in row.body_text and email.reply_to is None

    wiring.resident_reply_to(Settings(data_dir=tmp_path, smtp_sender="19115 <19115@um.test>",
                                      mail_inbound_port=2525), email)
    assert email.reply_to is not None  # the Reply-To that threads a reply onto the case
    case_id, token, _ = _asked(seeded, "Jak głęboka jest dziura?")
    row = _question(seeded, case_id)
    assert "Wystarczy odpowiedzieć na tę wiadomość" in row.body_text
    assert f"/portal/t/{token}" in row.body_text
    # An SMS cannot be replied to: it points to the page whatever the mail setting.
    case_id, _, _ = _asked(seeded, "Czy to przy przejściu?", channel="sms", address="+48600100200")
    sms = _question(seeded, case_id).body_text
    assert "odpowiedzieć na tę wiadomość" not in sms and "Odpowiedz: " in sms


def test_an_answer_on_the_page_lands_on_the_case_once(seeded: Database) -> None:
    case_id, token, zdm = _asked(seeded, "Po której stronie jezdni?")
    assert department.card(seeded, zdm, case_id).awaiting_resident
    with pytest.raises(ValidationError) as empty:
        answers.resident_answer(seeded, token, "   ")
    assert empty.value.fields == {"answer": "must not be empty"}
    with pytest.raises(ValidationError):
        answers.resident_answer(seeded, token, "x" * 2001)
    with pytest.raises(NotFound):
        answers.resident_answer(seeded, "not-the-token", "Po lewej.")
    assert department.card(seeded, zdm, case_id).notes == ()

    assert answers.resident_answer(seeded, token, "  Po lewej, przy krawężniku. ") == case_id
    card = department.card(seeded, zdm, case_id)
    assert [(n.by, n.text) for n in card.notes] == [
        ("mieszkaniec (strona zgłoszenia)", "Po lewej, przy krawężniku.")]
    assert not card.awaiting_resident and card.status == "forwarded"
    # Sent twice (a double click, a reload): the second finds no question waiting.
    with pytest.raises(ValidationError) as again:
        answers.resident_answer(seeded, token, "Po lewej, przy krawężniku.")
    assert again.value.fields == {"answer": answers.NO_QUESTION}
    assert len(department.card(seeded, zdm, case_id).notes) == 1
    # A case that never asked takes no answer either.
    other = cases.create_case(seeded, POTHOLE, by=Actor("portal"))
    with pytest.raises(ValidationError):
        answers.resident_answer(seeded, other.tracking_token, "Halo?")
