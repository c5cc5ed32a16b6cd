"""The notification outbox in the CRM database: enqueue (inside the status change's own
transaction), claim, record the outcome, list and retry.

Guarantees, in the style of the CRM's call-event outbox (`crm_core.outbox`):

- Nothing lost: a notification row is written in the same transaction as the status change
  that causes it (`on_status_change`, called from `crm_core.services.cases`), so either both
  are committed or neither. A row leaves `pending` only to become `sending` (claimed), then
  `sent` or, after its last try, `failed` — always with its last error, never deleted.
- Nothing sent twice, as far as one side can promise it: a row is claimed in a short
  transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any number of dispatchers share the
  work and never take the same row; SQLite: the claim runs under the database's single write
  lock, `BEGIN IMMEDIATE`, which makes the claimer single by construction). It is marked
  `sent` in the transaction that follows the moment the SMTP server (or the SMS gateway)
  accepted it. No database lock is held while talking to the network.
- The at-least-once edge: if the process dies (or the database is unreachable) *after* the
  server accepted a message and *before* `sent` is committed, the claim's lease expires and the
  message is sent again. The same holds when the SMTP connection drops after the final "." but
  before the reply. Each message therefore carries a stable `Message-ID` (e-mail) or
  `Idempotency-Key` (SMS gateway) derived from the idempotency key, so that receivers able to
  de-duplicate do. A second copy is possible only in that window; a lost message never is.
- The idempotency key is unique per (case, status change or question, channel): enqueueing the
  same event twice stores it once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import Case, CaseNotifyPreference, CaseStatusChange, Notification, Resident, utcnow
from crm_core.models.notifications import NOTIFY_CHANNELS
from crm_core.notifications import calls, rules

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_NOTIFY_FLAG = "ckm_notifications_enqueued"

# --- where the tracking links point (ground.settings.public_base_url); set by `configure`.
_config = {"public_base_url": "http://127.0.0.1:8080"}
_replies = {"by_email": False}  # set by crm_core.forwarding.wiring when ckm receives mail


def configure(public_base_url: str) -> None:
    """Called once at start-up by whatever process changes cases (ckm run, the CLI)."""
    _config["public_base_url"] = public_base_url.rstrip("/")


def configure_replies(*, by_email: bool) -> None:
    """Whether residents may answer by replying to ckm's e-mails (their Reply-To reaches ckm's
    inbound mail listener): the question's text says so only then."""
    _replies["by_email"] = by_email


# --- wake-ups: a dispatcher in this process is told when a transaction that enqueued commits,
# so a notification leaves within milliseconds rather than at the next poll.
_wakers: list[Callable[[], None]] = []
_wakers_lock = threading.Lock()


def add_waker(callback: Callable[[], None]) -> None:
    with _wakers_lock:
        _wakers.append(callback)


def remove_waker(callback: Callable[[], None]) -> None:
    with _wakers_lock:
        if callback in _wakers:
            _wakers.remove(callback)


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_NOTIFY_FLAG, False):
        with _wakers_lock:
            callbacks = list(_wakers)
        for callback in callbacks:
            callback()


@sa.event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_NOTIFY_FLAG, None)


# --- the resident's choice


def check_preference(channel: str, address: str) -> dict[str, str]:
    """Field errors of a channel choice (empty when it is usable)."""
    if channel not in NOTIFY_CHANNELS:
        return {"notify_by": f"expected one of {', '.join(NOTIFY_CHANNELS)}, got {channel!r}"}
    if channel == "email" and not _EMAIL.match(address):
        return {"email": f"{address!r} is not an e-mail address"}
    if channel in ("sms", "phone") and not _E164.match(address):
        return {"phone": f"{address!r} is not a phone number in E.164 form (+48…)"}
    return {}


def set_preference_in(
    session: Session,
    case_id: int,
    channel: str,
    address: str,
    *,
    language: str = "pl",
    tracking_token: str | None = None,
) -> None:
    errors = check_preference(channel, address)
    if errors:
        raise ValidationError(errors)
    pref = session.get(CaseNotifyPreference, case_id)
    if pref is None:
        pref = CaseNotifyPreference(case_id=case_id)
        session.add(pref)
    pref.channel = channel
    pref.address = address
    pref.language = rules.language_of(language)
    if tracking_token is not None:
        pref.tracking_token = tracking_token


def set_preference(
    db: Database,
    case_id: int,
    channel: str | None,
    address: str | None,
    *,
    language: str = "pl",
    tracking_token: str | None = None,
) -> None:
    """Record how the resident of `case_id` wants to be told; channel None (or no address)
    removes the choice: the resident is not told."""
    with db.writing() as session:
        if session.get(Case, case_id) is None:
            raise NotFound("case", case_id)
        if not channel or not address:
            session.execute(sa.delete(CaseNotifyPreference).where(CaseNotifyPreference.case_id == case_id))
            return
        set_preference_in(session, case_id, channel, address, language=language,
                          tracking_token=tracking_token)


def tracking_url(case_number: str, token: str | None) -> str:
    base = _config["public_base_url"]
    if token:
        return f"{base}/portal/t/{token}"
    return f"{base}/portal/track"


# --- enqueueing, inside the caller's transaction


def on_status_change(case: Case, change: CaseStatusChange) -> None:
    """Enqueue what `change` tells the resident, in the session (transaction) of `case`."""
    note = change.comment if change.public and change.comment else None
    kind = rules.notification_kind(change.from_status, change.to_status,
                                   duplicate=case.duplicate_of_id is not None, public_note=note is not None)
    session = object_session(case)
    if kind is None or session is None:
        return
    session.flush()  # the change's id names the notification
    duplicate_of = None
    if kind == "duplicate":
        duplicate_of = session.scalar(sa.select(Case.number).where(Case.id == case.duplicate_of_id))
    enqueue_in(session, case, kind, ref=f"status:{change.id}", note=note, duplicate_of=duplicate_of,
               at=change.at)


def enqueue_question(session: Session, case: Case, question: str, *, ref: str,
                     at: datetime | None = None) -> int:
    """A department's question to the resident, by their channel; `ref` names the question
    uniquely (e.g. its history entry's id). Returns how many notifications were enqueued."""
    return enqueue_in(session, case, "question", ref=f"question:{ref}", note=question, at=at)


def enqueue_in(
    session: Session,
    case: Case,
    kind: str,
    *,
    ref: str,
    note: str | None = None,
    duplicate_of: str | None = None,
    at: datetime | None = None,
) -> int:
    pref = session.get(CaseNotifyPreference, case.id)
    if pref is None:
        return 0
    consent = None
    if case.resident_id is not None:
        consent = session.scalar(sa.select(Resident.consent_contact).where(Resident.id == case.resident_id))
    if not rules.may_contact(pref.channel, pref.address, consent):
        return 0
    key = f"case:{case.id}:{ref}:{pref.channel}"[:80]
    exists = session.scalar(sa.select(Notification.id).where(Notification.idempotency_key == key))
    if exists is not None:
        return 0
    context = rules.MessageContext(
        kind=kind,
        language=pref.language,
        case_number=case.number,
        category=case.category.name,
        place=case.address or case.district,
        note=note,
        tracking_url=tracking_url(case.number, pref.tracking_token),
        duplicate_of=duplicate_of,
        reply_by_email=_replies["by_email"] and pref.channel == "email",
    )
    rendered = rules.render(context)
    now = at or utcnow()
    email = pref.channel == "email"
    session.add(Notification(
        case_id=case.id,
        idempotency_key=key,
        kind=kind,
        channel=pref.channel,
        to_address=pref.address,
        language=rules.language_of(pref.language),
        subject=rendered.subject[:200],
        # A phone call says the message (crm_core.notifications.calls); SMS sends the short text.
        body_text=(rendered.text if email else
                   calls.spoken(context) if pref.channel == "phone" else rendered.sms),
        body_html=rendered.html if email else None,
        status="pending",
        attempts=0,
        next_attempt_at=min(now, utcnow()),  # due now, even for a change dated ahead
        created_at=now,
    ))
    session.info[_NOTIFY_FLAG] = True
    return 1


# --- the dispatcher's side


@dataclass(frozen=True)
class Outgoing:
    id: int
    key: str
    channel: str
    to: str
    language: str
    subject: str
    text: str
    html: str | None
    attempts: int  # including this one
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    ok: bool
    permanent: bool = False
    error: str | None = None


OK = Outcome(True)


def claim(db: Database, channels: Sequence[str], *, limit: int = 100, lease_s: float = 600.0,
          now: datetime | None = None) -> list[Outgoing]:
    """Take up to `limit` due notifications of `channels` for sending (see the module doc)."""
    if not channels:
        return []
    now = now or utcnow()
    due = sa.or_(
        sa.and_(Notification.status == "pending", Notification.next_attempt_at <= now),
        sa.and_(Notification.status == "sending", Notification.claimed_until < now),
    )
    stmt = (
        sa.select(Notification)
        .where(due, Notification.channel.in_(list(channels)))
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    )
    if db.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    with db.writing() as session:
        rows = session.scalars(stmt).all()
        until = now + timedelta(seconds=lease_s)
        out = []
        for row in rows:
            row.status = "sending"
            row.claimed_until = until
            row.attempts += 1
            out.append(Outgoing(row.id, row.idempotency_key, row.channel, row.to_address, row.language,
                                row.subject, row.body_text, row.body_html, row.attempts, row.created_at))
        return out


def record(db: Database, results: Iterable[tuple[Outgoing, Outcome]], *, max_attempts: int = 8,
           backoff_base_s: float = 30.0, backoff_cap_s: float = 3600.0,
           now: datetime | None = None) -> None:
    """Mark each claimed notification sent, pending again (with backoff) or failed."""
    now = now or utcnow()
    results = list(results)
    sent = [item.id for item, outcome in results if outcome.ok]
    with db.writing() as session:
        for chunk in (sent[i:i + 500] for i in range(0, len(sent), 500)):
            session.execute(
                sa.update(Notification)
                .where(Notification.id.in_(chunk), Notification.status != "sent")
                .values(status="sent", sent_at=now, last_error=None, claimed_until=None),
                execution_options={"synchronize_session": False},
            )
        for item, outcome in results:
            if outcome.ok:
                continue
            row = session.get(Notification, item.id)
            if row is None or row.status == "sent":
                continue
            row.claimed_until = None
            if outcome.permanent or row.attempts >= max_attempts:
                row.status, row.last_error = "failed", (outcome.error or "failed")[:2000]
            else:
                row.status, row.last_error = "pending", (outcome.error or "failed")[:2000]
                delay = rules.backoff_s(row.attempts, base=backoff_base_s, cap=backoff_cap_s)
                row.next_attempt_at = now + timedelta(seconds=delay)


# --- supervisors' view


@dataclass(frozen=True)
class NotificationView:
    id: int
    case_number: str
    kind: str
    channel: str
    to: str
    language: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    subject: str


def list_notifications(db: Database, *, status: str | None = None, case_id: int | None = None,
                       limit: int = 100) -> list[NotificationView]:
    stmt = (
        sa.select(Notification, Case.number)
        .join(Case, Case.id == Notification.case_id)
        .order_by(Notification.id.desc())
        .limit(min(limit, 1000))
    )
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if case_id is not None:
        stmt = stmt.where(Notification.case_id == case_id)
    with db.reading() as session:
        return [
            NotificationView(n.id, number, n.kind, n.channel, n.to_address, n.language, n.status,
                             n.attempts, n.last_error, n.created_at, n.next_attempt_at, n.sent_at,
                             n.subject)
            for n, number in session.execute(stmt).all()
        ]


def counts(db: Database) -> dict[str, int]:
    """Notifications per status (for the wallboard and `ckm notifications list`)."""
    with db.reading() as session:
        rows = session.execute(
            sa.select(Notification.status, sa.func.count()).group_by(Notification.status)
        ).all()
    return {status: int(n) for status, n in rows}


def retry(db: Database, ids: Sequence[int] = (), *, all_failed: bool = False) -> int:
    """Put failed notifications back in line (after fixing an address or the SMTP settings)."""
    stmt = sa.update(Notification).where(Notification.status == "failed")
    if not all_failed:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    with db.writing() as session:
        result = session.execute(
            stmt.values(status="pending", attempts=0, next_attempt_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        session.info[_NOTIFY_FLAG] = True
        return int(getattr(result, "rowcount", 0) or 0)


def resolve_choice(db: Database, resident_id: int | None, channel: str,
                   address: str | None) -> tuple[str, str, str]:
    """A consultant's "tell the resident by …": (channel, address, language), the address being
    the one typed or else the resident's known e-mail / first phone number. Raises
    ValidationError when there is none or it is not usable."""
    if resident_id is not None:
        with db.reading() as session:
            resident = session.get(Resident, resident_id)
            known_email = resident.email if resident else None
            known_phone = resident.phones[0].number if resident and resident.phones else None
            language = resident.preferred_language if resident else "pl"
    else:
        known_email = known_phone = None
        language = "pl"
    if channel not in NOTIFY_CHANNELS:
        raise ValidationError({"notify_by": f"expected one of none, {', '.join(NOTIFY_CHANNELS)}"})
    chosen = (address or "").strip() or (known_email if channel == "email" else known_phone)
    if not chosen:
        what = "e-mail" if channel == "email" else "number"
        raise ValidationError({"notify_to": f"give the resident's {what}"})
    if channel != "email" and not chosen.startswith("+"):
        from crm_core.phone import normalize_phone

        chosen = normalize_phone(chosen, field="notify_to")
    errors = check_preference(channel, chosen)
    if errors:
        raise ValidationError({"notify_to": next(iter(errors.values()))})
    return channel, chosen, rules.language_of(language)


def record_desk_choice(db: Database, case_id: int, resident_id: int | None, choice: tuple[str, str, str],
                       tracking_token: str) -> None:
    """The resident, on the line, asked to be told by this channel: that is their consent to be
    contacted about their reports (recorded on their record), and the case's preference."""
    channel, address, language = choice
    with db.writing() as session:
        if resident_id is not None:
            session.execute(
                sa.update(Resident).where(Resident.id == resident_id).values(consent_contact=True))
        set_preference_in(session, case_id, channel, address, language=language,
                          tracking_token=tracking_token)
