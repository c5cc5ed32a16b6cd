"""`ckm seed`: reference data (categories, departments, routing, codes, queues, knowledge
base), idempotent; `ckm seed --demo` (run by `make run`) adds the demo accounts with their
queue memberships and skills.

Existing rows are matched by their code/name and brought up to date; nothing is duplicated,
and demo users that already exist keep their (possibly changed) passwords. A production
install never runs `--demo`: its accounts come from `ckm users add` or the admin page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.models import (
    AgentSkill,
    Category,
    Department,
    DepartmentMember,
    DispositionCode,
    PauseReason,
    Queue,
    QueueMember,
    RoutingRule,
    SlaRule,
    User,
    utcnow,
)
from crm_core.search import save_article
from crm_core.seed import reference as ref
from crm_core.seed.kb_articles import ARTICLES
from crm_core.services.users import hash_password
from crm_core.warsaw import DISTRICTS

T = TypeVar("T")


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1

    def __str__(self) -> str:
        if not self.created:
            text = "seed: everything already in place"
        else:
            text = "seed: created " + ", ".join(f"{n} {k}" for k, n in sorted(self.created.items()))
        return "\n".join([text, *(f"seed: warning: {w}" for w in self.warnings)])


def _get_or_add(
    session: Session, report: SeedReport, model: type[T], key: Mapping[str, object], **values: object
) -> T:
    row = session.scalar(sa.select(model).filter_by(**key))
    if row is None:
        row = model(**key, **values)
        session.add(row)
        session.flush()
        report.count(getattr(model, "__tablename__", model.__name__))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    return row


def _categories(session: Session, report: SeedReport) -> dict[str, Category]:
    found: dict[str, Category] = {}
    for code, name, subs in ref.CATEGORIES:
        parent = _get_or_add(session, report, Category, {"code": code}, name=name)
        found[code] = parent
        for sub_code, sub_name in subs:
            found[sub_code] = _get_or_add(
                session, report, Category, {"code": sub_code}, name=sub_name, parent_id=parent.id
            )
    return found


def _departments(session: Session, report: SeedReport) -> dict[str, Department]:
    return {
        code: _get_or_add(
            session, report, Department, {"code": code}, name=name, kind=kind, district=district, email=email
        )
        for code, name, kind, district, email in ref.DEPARTMENTS
    }


def _routing(
    session: Session,
    report: SeedReport,
    categories: dict[str, Category],
    departments: dict[str, Department],
) -> None:
    rules: list[tuple[str, str | None, str]] = [(c, None, d) for c, d in ref.ROUTING.items()]
    for name in DISTRICTS:
        office = ref.district_code(name)
        rules += [(c, name, office) for c in ref.DISTRICT_ROUTED]
        if name in ref.OUTER_DISTRICTS:
            rules += [(c, name, office) for c in ref.OUTER_ROUTED]
    for category, district, department in rules:
        _get_or_add(
            session,
            report,
            RoutingRule,
            {"category_id": categories[category].id, "district": district},
            department_id=departments[department].id,
        )


def _sla(session: Session, report: SeedReport, categories: dict[str, Category]) -> None:
    rules: list[tuple[str, str | None, int]] = [(c, None, h) for c, h in ref.SLA_HOURS.items()]
    rules += [(c, d, h) for (c, d), h in ref.SLA_DISTRICT_HOURS.items()]
    for category, district, hours in rules:
        key = {"category_id": categories[category].id, "district": district}
        row = session.scalar(sa.select(SlaRule).filter_by(**key))
        if row is None:  # an existing rule keeps the hours the center set for it
            session.add(SlaRule(**key, working_hours=hours))
            report.count("sla_rules")


def _demo_members(session: Session, report: SeedReport, departments: dict[str, Department],
                  users: dict[str, User]) -> None:
    for username, rows in ref.DEPARTMENT_MEMBERS.items():
        for code, head in rows:
            key = {"user_id": users[username].id, "department_id": departments[code].id}
            if session.scalar(sa.select(DepartmentMember).filter_by(**key)) is None:
                session.add(DepartmentMember(**key, is_head=head))
                report.count("department_members")


def _users(session: Session, report: SeedReport) -> dict[str, User]:
    users: dict[str, User] = {}
    for username, full_name, role, extension in ref.USERS:
        user = session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            user = User(
                username=username,
                full_name=full_name,
                role=role,
                extension=extension,
                password_hash=hash_password(ref.DEMO_PASSWORD),
            )
            session.add(user)
            session.flush()
            report.count("users")
        users[username] = user
    return users


def _queues(session: Session, report: SeedReport) -> dict[str, Queue]:
    queues: dict[str, Queue] = {}
    for name, display, skills, _, _, callback, priority in ref.QUEUES:
        queues[name] = _get_or_add(
            session,
            report,
            Queue,
            {"name": name},
            display_name=display,
            skills_required=list(skills),
            callback_allowed=callback,
            priority=priority,
        )
    for name, _, _, overflow, after_s, _, _ in ref.QUEUES:
        queues[name].overflow_queue_id = queues[overflow].id if overflow else None
        queues[name].overflow_after_s = after_s
    return queues


def _demo_seats(session: Session, report: SeedReport, queues: dict[str, Queue],
                users: dict[str, User]) -> None:
    for username, memberships in ref.MEMBERS.items():
        for queue, penalty in memberships.items():
            key = {"queue_id": queues[queue].id, "user_id": users[username].id}
            _get_or_add(session, report, QueueMember, key, penalty=penalty)
    for username, levels in ref.SKILLS.items():
        for skill, level in levels.items():
            skill_key: dict[str, object] = {"user_id": users[username].id, "skill": skill}
            _get_or_add(session, report, AgentSkill, skill_key, level=level)


def _demo_accounts_left(session: Session) -> list[str]:
    names = [u for u, *_ in ref.USERS]
    return list(session.scalars(sa.select(User.username).where(
        User.username.in_(names), User.is_active).order_by(User.username)))


def account_warnings(db: Database) -> list[str]:
    """What an operator should hear at start-up: no admin to manage accounts, demo accounts
    (public password unless changed) still active."""
    with db.reading() as session:
        admins = session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.role == "admin", User.is_active))
        demo = _demo_accounts_left(session)
    found = []
    if not admins:
        found.append("no active admin account: create one with `ckm users add NAME --role admin`")
    if demo:
        found.append(f"demo accounts active ({', '.join(demo)}): fine for `make run`; in "
                     "production `ckm users disable` each")
    return found


def seed(db: Database, *, demo: bool = False, at: datetime | None = None) -> SeedReport:
    """Put the reference data (and with `demo`, the demo accounts) in place; safe to run any
    number of times."""
    report = SeedReport()
    with db.writing() as session:
        categories = _categories(session, report)
        departments = _departments(session, report)
        _routing(session, report, categories, departments)
        _sla(session, report, categories)
        for code, label, requires_case in ref.DISPOSITIONS:
            _get_or_add(
                session, report, DispositionCode, {"code": code}, label=label, requires_case=requires_case
            )
        for code, label, paid, max_minutes in ref.PAUSE_REASONS:
            _get_or_add(
                session, report, PauseReason, {"code": code}, label=label, paid=paid, max_minutes=max_minutes
            )
        queues = _queues(session, report)
        author_id: int | None = None
        if demo:
            users = _users(session, report)
            _demo_seats(session, report, queues, users)
            _demo_members(session, report, departments, users)
            author_id = users["autor"].id
        else:
            left = _demo_accounts_left(session)
            if left:
                report.warnings.append(
                    f"demo accounts active: {', '.join(left)} (public password unless changed); "
                    "`ckm users disable NAME` each, or `ckm users passwd NAME`")
    now = at or utcnow()
    for slug, title, tags, body in ARTICLES:
        view = save_article(db, slug=slug, title=title, body=body, tags=tags, author_id=author_id, at=now)
        if view.version == 1 and view.updated_at == now:
            report.count("kb_articles")
    return report
