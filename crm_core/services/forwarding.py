"""How a department receives its cases beyond /dept, and the forward of a case to it.

A department may be set to receive its cases by Open311 (its own GeoReport v2 server: URL,
API key, service codes mapped) or by structured e-mail (an address); `none` is /dept alone.
When a case is forwarded to such a department (`crm_core.services.cases.transition_case`,
`crm_core.services.department.reassign`), `enqueue_forward` writes a `case_forwards` row in
the same transaction: the forward is then as durable as the status change. Sending, polling
and the answers coming back are crm_core.forwarding's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import Case, CaseForward, Department, utcnow

CHANNELS = ("none", "open311", "email")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE_PAIR = re.compile(r"^[^=,\s]+=[^=,\s]+$")
FORWARD_FLAG = "ckm_forwards_enqueued"  # session.info: a forward was enqueued (wakes the worker)


@dataclass(frozen=True)
class ForwardSetting:
    department: str
    channel: str
    target: str | None
    api_key_set: bool
    service_codes: str | None


def _department(session: Session, code: str) -> Department:
    dept = session.scalar(sa.select(Department).where(Department.code == code))
    if dept is None:
        raise ValidationError({"department": f"unknown department {code!r}"})
    return dept


def check_setting(channel: str, target: str | None, api_key: str | None,
                  service_codes: str | None) -> dict[str, str]:
    """Field errors of a forwarding setting (empty when usable)."""
    errors: dict[str, str] = {}
    if channel not in CHANNELS:
        return {"channel": f"expected one of {', '.join(CHANNELS)}, got {channel!r}"}
    if channel == "open311":
        parts = urlsplit(target or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["url"] = (f"{target!r} is not an http(s) URL of a GeoReport v2 endpoint "
                             "(e.g. https://zdm.example/open311/v2)")
        if not api_key:
            errors["api_key"] = "the department's server needs an api_key to accept requests"
        for pair in (service_codes or "").split(","):
            if pair.strip() and not _CODE_PAIR.match(pair.strip()):
                errors["service_code_map"] = f"{pair.strip()!r} is not ours=theirs"
                break
    if channel == "email" and not _EMAIL.match(target or ""):
        errors["address"] = f"{target!r} is not an e-mail address"
    return errors


def configure(db: Database, department: str, channel: str, target: str | None = None, *,
              api_key: str | None = None, service_codes: str | None = None) -> ForwardSetting:
    """Set how `department` receives its cases (from the next forward on)."""
    errors = check_setting(channel, target, api_key, service_codes)
    if errors:
        raise ValidationError(errors)
    with db.writing() as session:
        dept = _department(session, department)
        dept.forward_channel = channel
        dept.forward_target = None if channel == "none" else (target or "").rstrip("/")
        dept.forward_api_key = api_key if channel == "open311" else None
        dept.forward_service_codes = service_codes if channel == "open311" else None
        return _setting(dept)


def _setting(dept: Department) -> ForwardSetting:
    return ForwardSetting(dept.code, dept.forward_channel, dept.forward_target,
                          bool(dept.forward_api_key), dept.forward_service_codes)


def settings_of(db: Database) -> list[ForwardSetting]:
    with db.reading() as session:
        return [_setting(d) for d in session.scalars(sa.select(Department).order_by(Department.code))]


def enqueue_forward(session: Session, case: Case, now: datetime, *, ref: str) -> bool:
    """In the forwarding transaction: queue the case for its department's own system, when the
    department has one. `ref` names the forwarding (its history entry) so it is queued once."""
    dept = case.department
    if dept is None or dept.forward_channel not in ("open311", "email") or not dept.forward_target:
        return False
    key = f"case:{case.id}:forward:{ref}"[:80]
    if session.scalar(sa.select(CaseForward.id).where(CaseForward.idempotency_key == key)) is not None:
        return False
    session.add(CaseForward(
        case_id=case.id, department_id=dept.id, idempotency_key=key, channel=dept.forward_channel,
        target=dept.forward_target, status="pending", attempts=0,
        next_attempt_at=min(now, utcnow()), created_at=now,
    ))
    session.info[FORWARD_FLAG] = True
    return True


@dataclass(frozen=True)
class ForwardView:
    id: int
    case_number: str
    department: str
    channel: str
    target: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    remote_id: str | None
    remote_status: str | None
    remote_notes: str | None
    polled_at: datetime | None
    poll_error: str | None
    closed_at: datetime | None


def list_forwards(db: Database, *, status: str | None = None, case_id: int | None = None,
                  limit: int = 100) -> list[ForwardView]:
    stmt = (
        sa.select(CaseForward, Case.number, Department.code)
        .join(Case, Case.id == CaseForward.case_id)
        .join(Department, Department.id == CaseForward.department_id)
        .order_by(CaseForward.id.desc()).limit(min(limit, 1000))
    )
    if status is not None:
        stmt = stmt.where(CaseForward.status == status)
    if case_id is not None:
        stmt = stmt.where(CaseForward.case_id == case_id)
    with db.reading() as session:
        return [ForwardView(f.id, number, code, f.channel, f.target, f.status, f.attempts,
                            f.last_error, f.created_at, f.sent_at, f.remote_id, f.remote_status,
                            f.remote_notes, f.polled_at, f.poll_error, f.closed_at)
                for f, number, code in session.execute(stmt).all()]


def retry_failed(db: Database, ids: list[int] | None = None) -> int:
    """Put failed forwards back in line (after fixing the department's URL, key or address)."""
    stmt = sa.update(CaseForward).where(CaseForward.status == "failed")
    if ids:
        stmt = stmt.where(CaseForward.id.in_(ids))
    with db.writing() as session:
        result = session.execute(stmt.values(status="pending", attempts=0, next_attempt_at=utcnow()),
                                 execution_options={"synchronize_session": False})
        session.info[FORWARD_FLAG] = True
        return int(getattr(result, "rowcount", 0) or 0)

