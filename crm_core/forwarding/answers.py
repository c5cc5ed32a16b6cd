"""Answers from outside landing on their cases: what a department's Open311 server says about
a request, a department's e-mail reply, a resident's reply to a question (by e-mail, or on
the report's tracking page).

Every status change goes through crm_core.services.cases (`_set_status`), as the /dept actions
do, so the resident is notified of a resolve or reject by their channel in the same
transaction. A resolve or reject from outside is taken only while the case is open at that
department; otherwise what came is kept as an internal note (nothing the department says is
dropped, and nothing reopens or re-closes a case behind the center's back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.forwarding import rules
from crm_core.forwarding.open311_client import RemoteRequest
from crm_core.models import Case, CaseForward, CaseNote, CaseStatus, CaseWork, Department, utcnow
from crm_core.services.cases import MAX_COMMENT, Actor, _set_status, token_hash
from crm_core.services.sla import work_of

OPEN_AT_DEPARTMENT = (CaseStatus.FORWARDED.value, CaseStatus.IN_PROGRESS.value)


def _locked_case(session: Session, case_id: int) -> Case | None:
    return session.scalar(sa.select(Case).where(Case.id == case_id).with_for_update())


def _finish(session: Session, case: Case, kind: str, text: str, actor: Actor, now: datetime) -> None:
    wanted = CaseStatus.RESOLVED if kind == "resolved" else CaseStatus.REJECTED
    _set_status(case, CaseStatus(case.status), wanted, actor, text[:MAX_COMMENT], now, public=True)
    work = work_of(session, case, now)
    work.done_at = now
    work.on_time = now <= work.due_at
    work.awaiting_resident_since = None


def _note(session: Session, case: Case, label: str, text: str, now: datetime) -> None:
    session.add(CaseNote(case_id=case.id, at=now, by_user_id=None, by_label=label[:80],
                         text=text[:MAX_COMMENT]))


def apply_remote(db: Database, forward_id: int, remote: RemoteRequest, *,
                 at: datetime | None = None) -> str | None:
    """Take what the department's server says about the request; returns what was done
    (`resolved`, `rejected`, `note`) or None."""
    now = at or utcnow()
    with db.writing() as session:
        row = session.scalar(sa.select(CaseForward).where(CaseForward.id == forward_id).with_for_update())
        if row is None or row.closed_at is not None:
            return None
        case = _locked_case(session, row.case_id)
        dept = session.get(Department, row.department_id)
        assert case is not None and dept is not None
        change = rules.remote_change(remote.status, remote.status_notes, row.remote_notes,
                                     remote.detailed_status)
        row.remote_id = row.remote_id or remote.service_request_id
        row.remote_status, row.remote_notes = remote.status, remote.status_notes
        row.polled_at, row.poll_error = now, None
        at_department = case.status in OPEN_AT_DEPARTMENT and case.department_id == row.department_id
        if not at_department:
            row.closed_at = now  # the case has moved on: nothing more to ask
            return None
        if change is None:
            return None
        label = f"{dept.code} (Open311)"
        if change.kind in ("resolve", "reject"):
            outcome = "resolved" if change.kind == "resolve" else "rejected"
            _finish(session, case, outcome, change.text, Actor(f"department:{label}"), now)
            row.closed_at = now
            return outcome
        _note(session, case, label, change.text, now)
        return "note"


@dataclass(frozen=True)
class Applied:
    outcome: str  # resolved | rejected | note | resident_answer
    case_id: int


def department_reply(session: Session, case: Case, dept: Department, body: str,
                     now: datetime) -> Applied | None:
    """A department's e-mail reply (inside the caller's transaction, the case locked)."""
    answer = rules.read_answer(body)
    if answer is None:
        return None
    label = f"{dept.code} (e-mail)"
    at_department = case.status in OPEN_AT_DEPARTMENT and case.department_id == dept.id
    if answer.kind in ("resolved", "rejected") and at_department:
        _finish(session, case, answer.kind, answer.text, Actor(f"department:{label}"), now)
        return Applied(answer.kind, case.id)
    _note(session, case, label, answer.text if answer.kind == "note"
          else f"{answer.kind.upper()}: {answer.text}", now)
    return Applied("note", case.id)


def resident_reply(session: Session, case: Case, body: str, now: datetime) -> Applied | None:
    """A resident's e-mail reply to a question: the department sees it on the card (a note by
    the resident), and the case no longer waits for the resident."""
    text = rules.fresh_text(body)
    if not text:
        return None
    _note(session, case, "mieszkaniec (e-mail)", text, now)
    if case.status in OPEN_AT_DEPARTMENT:
        work_of(session, case, now).awaiting_resident_since = None
    return Applied("resident_answer", case.id)


NO_QUESTION = "no question is waiting for your answer"


def resident_answer(db: Database, token: str, text: str, *, at: datetime | None = None) -> int:
    """The resident's answer typed on the tracking page, authorised by the tracking token: the
    department reads it on the card (a note by the resident, like an e-mail reply) and the case
    no longer waits. Taken only while a question waits, so a second send is refused, not kept
    twice. Returns the case id."""
    now = at or utcnow()
    body = (text or "").strip()
    if not body:
        raise ValidationError({"answer": "must not be empty"})
    if len(body) > MAX_COMMENT:
        raise ValidationError({"answer": f"at most {MAX_COMMENT} characters"})
    if not token or len(token) > 100:
        raise NotFound("case", "?")
    with db.writing() as session:
        case = session.scalar(sa.select(Case).where(Case.tracking_token_hash == token_hash(token))
                              .with_for_update())
        if case is None:
            raise NotFound("case", "?")
        work = session.get(CaseWork, case.id)
        if work is None or work.awaiting_resident_since is None or case.status not in OPEN_AT_DEPARTMENT:
            raise ValidationError({"answer": NO_QUESTION})
        _note(session, case, "mieszkaniec (strona zgłoszenia)", body, now)
        work.awaiting_resident_since = None
        return case.id
