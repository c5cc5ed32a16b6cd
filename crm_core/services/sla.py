"""Deadlines (SLA) of the cases departments work on.

A case forwarded to a department gets `due_at` = forwarding time + the working hours of its
category (`sla_rules`: a subcategory's rule before its category's, a district's rule before the
city-wide one; DEFAULT_SLA_HOURS when there is none), counted in Warsaw's working calendar
(crm_core.warsaw: Monday to Friday 8–16, Polish holidays off). `start_clock` is called by
crm_core.services.cases whenever a case is forwarded, in the same transaction.

Escalation (`escalate_overdue`, run by the department inbox and periodically by `ckm run`): an
open case past its deadline goes to the department's head (level 1), and one working day
(SECOND_ESCALATION_HOURS) later to the center's supervisors as well (level 2).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import Case, CaseStatus, CaseWork, Category, SlaRule, utcnow
from crm_core.warsaw import DISTRICTS, add_working_hours, working_hours_before

DEFAULT_SLA_HOURS = 40  # a working week, for a category without a rule
SECOND_ESCALATION_HOURS = 8.0  # working hours past the deadline before the center's supervisor
OPEN_WORK = (CaseStatus.FORWARDED.value, CaseStatus.IN_PROGRESS.value)


def sla_hours(session: Session, category_id: int, subcategory_id: int | None,
              district: str | None) -> int:
    """Working hours for a case: subcategory before category, district before city-wide."""
    ids = [i for i in (subcategory_id, category_id) if i is not None]
    rules = {(r.category_id, r.district): r.working_hours for r in session.scalars(
        sa.select(SlaRule).where(SlaRule.category_id.in_(ids)))}
    for cat in ids:
        for where in (district, None):
            if (cat, where) in rules:
                return rules[(cat, where)]
    return DEFAULT_SLA_HOURS


def start_clock(session: Session, case: Case, now: datetime) -> CaseWork:
    """The case has just been forwarded to `case.department`: its deadline starts now. A case
    forwarded again (after a return, or to another department) starts a new deadline; the
    count of returns stays."""
    hours = sla_hours(session, case.category_id, case.subcategory_id, case.district)
    work = session.get(CaseWork, case.id)
    if work is None:
        work = CaseWork(case_id=case.id, returns=0, escalation_level=0, forwarded_at=now,
                        sla_hours=hours, due_at=now)
        session.add(work)
    work.department_id = case.department_id
    work.forwarded_at = now
    work.sla_hours = hours
    work.due_at = add_working_hours(now, hours)
    work.accepted_at = None
    work.escalation_level = 0
    work.escalated_at = None
    work.done_at = None
    work.on_time = None
    work.awaiting_resident_since = None
    case.due_at, case.forwarded_at = work.due_at, work.forwarded_at  # what the inbox reads
    return work


def work_of(session: Session, case: Case, now: datetime) -> CaseWork:
    """The case's deadline row; a case forwarded before deadlines existed gets one now."""
    work = session.get(CaseWork, case.id)
    return work if work is not None else start_clock(session, case, now)


def escalate_overdue(db: Database, *, at: datetime | None = None) -> int:
    """Raise the escalation of open cases past their deadline; returns how many changed.

    One UPDATE per level, in the database: a case is late by SECOND_ESCALATION_HOURS exactly
    when its deadline is at or before `working_hours_before(now, …)`, so two moments stand for
    the calendar and no case is read into ckm. The work still to escalate is found by deadline
    in migration 0015's partial index (its condition written as there, the level a literal, so
    that PostgreSQL proves it). At 500k cases with ~10k overdue the sweep read them all and
    counted working hours for each in Python: 0.7 s for the first sweep, 0.13 s for every
    later one, paid by the first inbox view after each minute."""
    now = at or utcnow()
    changed = 0
    pending = [CaseWork.escalation_level < sa.literal_column("2"), CaseWork.done_at.is_(None)]
    open_work = Case.status.in_(sa.bindparam(None, list(OPEN_WORK), expanding=True,
                                             literal_execute=True))
    with db.writing() as session:
        for level, since in ((2, working_hours_before(now, SECOND_ESCALATION_HOURS)), (1, now)):
            late = CaseWork.due_at < since if level == 1 else CaseWork.due_at <= since
            found = session.execute(
                sa.update(CaseWork)
                .where(*pending, late, CaseWork.escalation_level < level,
                       CaseWork.case_id.in_(sa.select(Case.id).where(open_work)))
                .values(escalation_level=level, escalated_at=now)
                .execution_options(synchronize_session=False))
            changed += int(getattr(found, "rowcount", 0) or 0)
    return changed


def set_sla_rule(db: Database, category: str, working_hours: int, district: str | None = None) -> None:
    if not 1 <= working_hours <= 2000:
        raise ValidationError({"working_hours": "expected 1 to 2000 working hours"})
    if district is not None and district not in DISTRICTS:
        raise ValidationError({"district": f"unknown Warsaw district {district!r}"})
    with db.writing() as session:
        cat = session.scalar(sa.select(Category).where(Category.code == category))
        if cat is None:
            raise ValidationError({"category": f"unknown category {category!r}"})
        rule = session.scalar(sa.select(SlaRule).where(
            SlaRule.category_id == cat.id,
            SlaRule.district.is_(None) if district is None else SlaRule.district == district))
        if rule is None:
            session.add(SlaRule(category_id=cat.id, district=district, working_hours=working_hours))
        else:
            rule.working_hours = working_hours


def list_sla_rules(db: Database) -> list[tuple[str, str | None, int]]:
    with db.reading() as session:
        return [(c, d, h) for c, d, h in session.execute(
            sa.select(Category.code, SlaRule.district, SlaRule.working_hours)
            .join(Category, Category.id == SlaRule.category_id)
            .order_by(Category.code, SlaRule.district.is_not(None), SlaRule.district))]
