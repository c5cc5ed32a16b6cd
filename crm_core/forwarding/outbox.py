"""The outbox of forwards (`case_forwards`): claim, record the outcome, find the requests due
for a poll.

The same guarantees as the residents' notifications (crm_core.notifications.store): a forward
row is written in the forwarding's own transaction, so it is never lost; it is claimed in a
short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, several workers share the work and
never take the same row; SQLite: under its single write lock) with a lease, sent with no
database lock held, and marked `sent` right after the remote side accepted it — or back to
`pending` with backoff, or `failed` with its last error, never deleted. The at-least-once edge
is the same too: a process dying between the remote server's acceptance and the commit of
`sent` sends it again once the lease runs out (GeoReport v2 has no idempotency key; the e-mail
carries a stable Message-ID).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.forwarding import rules
from crm_core.models import Case, CaseForward, CaseWork, Category, Department, utcnow

OPEN_AT_DEPARTMENT = ("forwarded", "in_progress")


@dataclass(frozen=True)
class ForwardJob:
    """A claimed forward with everything its sending needs (no database access while sending)."""

    id: int
    key: str
    channel: str
    target: str
    attempts: int  # including this one
    api_key: str | None
    code_map: str | None
    department: str
    department_name: str
    case_id: int
    case_number: str
    category_code: str
    subcategory_code: str | None
    category_name: str
    description: str
    address: str | None
    district: str | None
    lat: float | None
    lon: float | None
    location_text: str | None
    priority: int
    created_at: datetime
    due_at: datetime | None


@dataclass(frozen=True)
class Delivered:
    """The outcome of one send: ok with the remote ids (Open311), or an error."""

    ok: bool
    remote_id: str | None = None
    remote_token: str | None = None
    permanent: bool = False
    error: str | None = None


def _job(session: Session, row: CaseForward) -> ForwardJob:
    case = session.get(Case, row.case_id)
    dept = session.get(Department, row.department_id)
    assert case is not None and dept is not None
    main = session.get(Category, case.category_id)
    sub = session.get(Category, case.subcategory_id) if case.subcategory_id else None
    assert main is not None
    work = session.get(CaseWork, case.id)
    return ForwardJob(
        id=row.id, key=row.idempotency_key, channel=row.channel, target=row.target,
        attempts=row.attempts, api_key=dept.forward_api_key, code_map=dept.forward_service_codes,
        department=dept.code, department_name=dept.name, case_id=case.id, case_number=case.number,
        category_code=main.code, subcategory_code=sub.code if sub else None,
        category_name=(sub or main).name, description=case.description, address=case.address,
        district=case.district, lat=case.lat, lon=case.lon, location_text=case.location_text,
        priority=case.priority, created_at=case.created_at,
        due_at=work.due_at if work else None,
    )


def claim(db: Database, channels: Iterable[str], *, limit: int = 50, lease_s: float = 600.0,
          now: datetime | None = None) -> list[ForwardJob]:
    channels = list(channels)
    if not channels:
        return []
    now = now or utcnow()
    due = sa.or_(
        sa.and_(CaseForward.status == "pending", CaseForward.next_attempt_at <= now),
        sa.and_(CaseForward.status == "sending", CaseForward.claimed_until < now),
    )
    stmt = (sa.select(CaseForward).where(due, CaseForward.channel.in_(channels))
            .order_by(CaseForward.next_attempt_at, CaseForward.id).limit(limit))
    if db.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    with db.writing() as session:
        rows = session.scalars(stmt).all()
        jobs = []
        for row in rows:
            row.status = "sending"
            row.claimed_until = now + timedelta(seconds=lease_s)
            row.attempts += 1
            jobs.append(_job(session, row))
        return jobs


def record(db: Database, results: Iterable[tuple[ForwardJob, Delivered]], *, poll_s: float,
           max_attempts: int = 8, backoff_base_s: float = 30.0, backoff_cap_s: float = 3600.0,
           now: datetime | None = None) -> None:
    now = now or utcnow()
    with db.writing() as session:
        for job, outcome in results:
            row = session.get(CaseForward, job.id)
            if row is None or row.status == "sent":
                continue
            row.claimed_until = None
            if outcome.ok:
                row.status, row.sent_at, row.last_error = "sent", now, None
                row.remote_id, row.remote_token = outcome.remote_id, outcome.remote_token
                if row.channel == "open311":
                    row.next_poll_at = now + timedelta(seconds=poll_s)
                continue
            row.last_error = (outcome.error or "failed")[:2000]
            if outcome.permanent or row.attempts >= max_attempts:
                row.status = "failed"
            else:
                row.status = "pending"
                delay = rules.backoff_s(row.attempts, base=backoff_base_s, cap=backoff_cap_s)
                row.next_attempt_at = now + timedelta(seconds=delay)


@dataclass(frozen=True)
class PollJob:
    id: int
    case_id: int
    endpoint: str
    remote_id: str | None
    remote_token: str | None


def due_polls(db: Database, *, poll_s: float, limit: int = 50,
              now: datetime | None = None) -> list[PollJob]:
    """Open311 requests to ask about now: sent, not closed, their case still open at the
    department they were sent to. Each is pushed a poll interval ahead as it is taken, so two
    workers do not ask at once (asking twice would be harmless: applying is idempotent)."""
    now = now or utcnow()
    stmt = (
        sa.select(CaseForward)
        .join(Case, Case.id == CaseForward.case_id)
        .where(CaseForward.channel == "open311", CaseForward.status == "sent",
               CaseForward.closed_at.is_(None), CaseForward.next_poll_at <= now,
               Case.department_id == CaseForward.department_id,
               Case.status.in_(OPEN_AT_DEPARTMENT))
        .order_by(CaseForward.next_poll_at).limit(limit)
    )
    if db.dialect == "postgresql":
        stmt = stmt.with_for_update(of=CaseForward, skip_locked=True)
    with db.writing() as session:
        jobs = []
        for row in session.scalars(stmt).all():
            row.next_poll_at = now + timedelta(seconds=poll_s)
            jobs.append(PollJob(row.id, row.case_id, row.target, row.remote_id, row.remote_token))
        return jobs


def record_poll_error(db: Database, forward_id: int, error: str, *, now: datetime | None = None) -> None:
    with db.writing() as session:
        row = session.get(CaseForward, forward_id)
        if row is not None:
            row.polled_at, row.poll_error = now or utcnow(), error[:2000]


def record_remote_id(db: Database, forward_id: int, remote_id: str) -> None:
    with db.writing() as session:
        row = session.get(CaseForward, forward_id)
        if row is not None:
            row.remote_id = remote_id
