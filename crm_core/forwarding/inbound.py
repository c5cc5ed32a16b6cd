"""Inbound e-mail: ckm's SMTP listener (aiosmtpd, on the `ckm run` loop; the city's MTA relays
the center's reply addresses to it) and what happens to each message.

A message is attached to a case only when both hold:
- one of its recipients (the envelope's RCPT TO, else To/Cc) carries a genuine case tag
  (crm_core.mail_tokens: `19115+d-42-<mac>@…` for the department, `r-…` for the resident);
- its sender (the From header) is who the tag is for: for `d`, the address the case was
  forwarded to by e-mail or the department's own address; for `r`, the address the resident
  chose to be told at (or the e-mail on the resident's record).
Then a department's reply resolves, rejects or notes the case (crm_core.forwarding.rules,
`read_answer`), and a resident's reply becomes their answer on the case (the department sees
it; the case stops waiting for the resident). Anything else — no tag, a forged or foreign tag,
a sender who is not the one the tag is for, a case that no longer exists — is **quarantined**:
stored in `inbound_mail` with the reason, listed for supervisors (`ckm mail quarantine`,
`GET /wallboard/api/quarantine`), never attached.

Delivery is exactly-once per message: its Message-ID (or a digest of the whole message) is
unique in `inbound_mail`, written in the same transaction as what it does to the case, so an
MTA delivering again changes nothing. Until that transaction has committed the listener does
not answer 250: with the database down the MTA is told 451 and tries again later — a message
is never acknowledged and lost.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core import mail_tokens
from crm_core.db import Database
from crm_core.forwarding import answers
from crm_core.models import (
    Case,
    CaseForward,
    CaseNotifyPreference,
    Department,
    InboundMail,
    Resident,
    utcnow,
)

log = logging.getLogger(__name__)
MAX_RAW = 2 * 1024 * 1024  # what is kept of a message (the listener accepts up to 10 MB)
MAX_TEXT = 20_000


@dataclass(frozen=True)
class Received:
    id: int | None
    outcome: str  # note | resolved | rejected | resident_answer | quarantined | duplicate
    case_id: int | None
    reason: str | None


def _text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?is)<(script|style).*?</\1>", "", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = html.unescape(re.sub(r"<[^>]+>", "", content))
    return content.strip()[:MAX_TEXT]


def _key(msg: EmailMessage, raw: bytes) -> str:
    found = str(msg.get("Message-ID", "") or "").strip()
    if found and len(found) <= 240:
        return found
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _tag(secret: bytes, recipients: list[str]) -> tuple[mail_tokens.ReplyTag | None, str | None]:
    problem = None
    for address in recipients:
        found = mail_tokens.read_tag(secret, address)
        if isinstance(found, mail_tokens.ReplyTag):
            return found, None
        if isinstance(found, str):
            problem = problem or found
    return None, problem or "no case tag in any recipient address"


def _department_senders(session: Session, case: Case) -> dict[str, Department]:
    """Who may answer for a department on this case: the addresses it was forwarded to by
    e-mail, and its current department's forwarding and own addresses."""
    allowed: dict[str, Department] = {}
    for target, dept in session.execute(
        sa.select(CaseForward.target, Department)
        .join(Department, Department.id == CaseForward.department_id)
        .where(CaseForward.case_id == case.id, CaseForward.channel == "email")
    ).all():
        allowed[target.lower()] = dept
    if case.department is not None:
        for address in (case.department.forward_target, case.department.email):
            if address and "@" in address:
                allowed.setdefault(address.lower(), case.department)
    return allowed


def _resident_senders(session: Session, case: Case) -> set[str]:
    allowed = set()
    pref = session.get(CaseNotifyPreference, case.id)
    if pref is not None and pref.channel == "email":
        allowed.add(pref.address.lower())
    if case.resident_id is not None:
        known = session.scalar(sa.select(Resident.email).where(Resident.id == case.resident_id))
        if known:
            allowed.add(known.lower())
    return allowed


def receive(db: Database, secret: bytes, raw: bytes, mail_from: str, rcpt_tos: list[str], *,
            at: datetime | None = None) -> Received:
    """File one received message: attach it to its case or quarantine it (see the module doc).
    Raises on a database error (the listener then answers 451)."""
    now = at or utcnow()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    key = _key(msg, raw)
    sender = parseaddr(str(msg.get("From", "") or ""))[1].lower() or mail_from.lower()
    headers = [str(v) for name in ("To", "Cc") for v in msg.get_all(name, [])]
    recipients = list(rcpt_tos) + [a for _, a in getaddresses(headers) if a]
    subject = str(msg.get("Subject", "") or "")[:300]
    body = _text_of(msg)
    tag, problem = _tag(secret, recipients)
    try:
        with db.writing() as session:
            if session.scalar(sa.select(InboundMail.id).where(InboundMail.message_key == key)):
                return Received(None, "duplicate", None, "delivered before")
            outcome, case_id, reason = _apply(session, tag, problem, sender, body, now)
            row = InboundMail(
                received_at=now, message_key=key, mail_from=(sender or mail_from)[:254],
                rcpt_to=", ".join(rcpt_tos)[:1000], subject=subject, body_text=body,
                case_id=case_id, outcome=outcome, reason=reason[:500] if reason else None,
                raw=raw[:MAX_RAW],
            )
            session.add(row)
            session.flush()
            received = Received(row.id, outcome, case_id, reason)
    except sa.exc.IntegrityError:  # the same message delivered twice at once: the other won
        return Received(None, "duplicate", None, "delivered before")
    if received.outcome == "quarantined":
        log.warning("inbound mail from %s quarantined: %s", sender, received.reason)
    else:
        log.info("inbound mail from %s on case %s: %s", sender, received.case_id, received.outcome)
    return received


def _apply(session: Session, tag: mail_tokens.ReplyTag | None, problem: str | None, sender: str,
           body: str, now: datetime) -> tuple[str, int | None, str | None]:
    if tag is None:
        return "quarantined", None, problem
    case = session.scalar(sa.select(Case).where(Case.id == tag.case_id).with_for_update())
    if case is None:
        return "quarantined", None, f"case {tag.case_id} does not exist"
    if tag.who == "d":
        allowed = _department_senders(session, case)
        dept = allowed.get(sender)
        if dept is None:
            return "quarantined", None, (f"sender {sender or '(none)'} is not the department address "
                                         f"case {case.number} was sent to")
        applied = answers.department_reply(session, case, dept, body, now)
    else:
        if sender not in _resident_senders(session, case):
            return "quarantined", None, (f"sender {sender or '(none)'} is not the resident of case "
                                         f"{case.number}")
        applied = answers.resident_reply(session, case, body, now)
    if applied is None:
        return "ignored", case.id, "no text in the reply"
    return applied.outcome, applied.case_id, None


# --- the listener


class InboundHandler:
    """aiosmtpd handler: every recipient is taken (the tag is checked on the whole message, so a
    stranger learns nothing from RCPT answers); DATA is filed on a worker thread."""

    def __init__(self, db: Database, secret: bytes) -> None:
        self.db = db
        self.secret = secret
        self.received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            result = await asyncio.to_thread(receive, self.db, self.secret, raw,
                                             envelope.mail_from or "", list(envelope.rcpt_tos))
        except Exception as exc:
            log.warning("inbound mail not filed (the sender's server will retry): %s", exc)
            return "451 4.3.0 cannot file the message now; try again later"
        self.received.append(result)
        del self.received[:-100]
        return "250 2.0.0 filed"


class InboundServer:
    def __init__(self, db: Database, secret: bytes, host: str, port: int, *,
                 hostname: str = "ckm") -> None:
        self.handler = InboundHandler(db, secret)
        self.host, self.port, self.hostname = host, port, hostname
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        from aiosmtpd.smtp import SMTP

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, data_size_limit=10 * 1024 * 1024, enable_SMTPUTF8=True,
                         hostname=self.hostname, ident="ckm inbound"),
            self.host, self.port)
        sockets = self._server.sockets or ()
        if sockets and self.port == 0:
            self.port = sockets[0].getsockname()[1]
        log.info("inbound mail listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


@dataclass(frozen=True)
class InboundView:
    id: int
    received_at: datetime
    mail_from: str
    rcpt_to: str
    subject: str
    outcome: str
    reason: str | None
    case_number: str | None
    excerpt: str


def list_inbound(db: Database, *, outcome: str | None = "quarantined", limit: int = 50) -> list[InboundView]:
    stmt = (sa.select(InboundMail, Case.number).outerjoin(Case, Case.id == InboundMail.case_id)
            .order_by(InboundMail.id.desc()).limit(min(limit, 500)))
    if outcome is not None:
        stmt = stmt.where(InboundMail.outcome == outcome)
    with db.reading() as session:
        return [InboundView(m.id, m.received_at, m.mail_from, m.rcpt_to, m.subject, m.outcome,
                            m.reason, number, " ".join(m.body_text.split())[:200])
                for m, number in session.execute(stmt).all()]


def quarantine_count(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(InboundMail)
                                  .where(InboundMail.outcome == "quarantined")) or 0)
