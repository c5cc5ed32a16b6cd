"""What became of a case after the center forwarded it, as the consultant's card shows it: the
department's deadline (and whether it is missed, escalated, waiting for the resident), the
department's public answer, and where the case went beyond ckm (a department's own system by
Open311 or e-mail: delivered or not, the remote request and its status). Whether the resident
was told is crm_core.notifications' list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import Case, CaseForward, CaseStatusChange, CaseWork, Department, utcnow

ANSWERED = ("resolved", "rejected")
OPEN_AT_DEPARTMENT = ("forwarded", "in_progress")


@dataclass(frozen=True)
class Answer:
    status: str  # resolved | rejected
    text: str
    at: datetime
    by: str


@dataclass(frozen=True)
class ForwardState:
    department: str
    channel: str  # open311 | email
    status: str  # pending | sending | sent | failed
    remote_id: str | None
    remote_status: str | None
    last_error: str | None


@dataclass(frozen=True)
class FollowUp:
    due_at: datetime | None
    sla_hours: int | None
    overdue: bool
    escalation_level: int
    awaiting_resident: bool
    answer: Answer | None
    forwards: tuple[ForwardState, ...]


def follow_up(db: Database, case_id: int, *, at: datetime | None = None) -> FollowUp:
    now = at or utcnow()
    with db.reading() as session:
        status = session.scalar(sa.select(Case.status).where(Case.id == case_id))
        work = session.get(CaseWork, case_id)
        answer_row = session.execute(
            sa.select(CaseStatusChange.to_status, CaseStatusChange.comment, CaseStatusChange.at,
                      CaseStatusChange.by_label)
            .where(CaseStatusChange.case_id == case_id, CaseStatusChange.to_status.in_(ANSWERED),
                   CaseStatusChange.public, CaseStatusChange.comment.is_not(None))
            .order_by(CaseStatusChange.id.desc()).limit(1)).first()
        forwards = session.execute(
            sa.select(Department.code, CaseForward.channel, CaseForward.status, CaseForward.remote_id,
                      CaseForward.remote_status, CaseForward.last_error)
            .join(Department, Department.id == CaseForward.department_id)
            .where(CaseForward.case_id == case_id).order_by(CaseForward.id)).all()
    is_open = status in OPEN_AT_DEPARTMENT
    return FollowUp(
        due_at=work.due_at if work else None,
        sla_hours=work.sla_hours if work else None,
        overdue=bool(work and is_open and work.due_at < now),
        escalation_level=work.escalation_level if work and is_open else 0,
        awaiting_resident=bool(work and is_open and work.awaiting_resident_since),
        answer=(Answer(answer_row[0], answer_row[1] or "", answer_row[2], answer_row[3])
                if answer_row is not None else None),
        forwards=tuple(ForwardState(*f) for f in forwards),
    )
