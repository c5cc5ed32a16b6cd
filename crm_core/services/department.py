"""The department workspace: memberships, the inbox, the case card, the department's actions
on its cases, deadlines (SLA) and escalation.

Every status change goes through crm_core.services.cases (`_set_status` records the change and
its history entry; the lifecycle table there decides what is allowed), so whatever listens to
status changes sees the department's moves like the center's. Department staff act only on the
cases of their departments (`Forbidden` otherwise); admins act on every department's.

Deadlines and escalation: crm_core.services.sla.

Public and internal text: the answer of a resolve/reject and a question to the resident are
public comments of the status change (the tracking page and Open311 show them); a note is a
`case_notes` row, which nothing the resident or open data reads ever selects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from crm_core.db import Database
from crm_core.errors import CrmError, NotFound, TransitionError, ValidationError
from crm_core.models import (
    Case,
    CaseNote,
    CaseStatus,
    CaseWork,
    Category,
    Department,
    DepartmentMember,
    Interaction,
    Resident,
    User,
    case_interactions,
    utcnow,
)
from crm_core.services.cases import MAX_COMMENT, TRANSITIONS, Actor, _set_status
from crm_core.services.forwarding import enqueue_forward
from crm_core.services.sla import start_clock, work_of
from crm_core.warsaw import DISTRICTS, TIMEZONE, local_date

S = CaseStatus
CENTER_DEPARTMENT = "CKM"  # where a returned case goes: the contact center re-routes it
WORK_STATUSES = (S.FORWARDED, S.IN_PROGRESS)  # what a department acts on
SEEN_STATUSES = (S.FORWARDED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED, S.CLOSED)
TABS = ("open", "new", "overdue", "due_today", "in_progress", "done")
AGES = {"d1": (None, 1), "d7": (None, 7), "d30": (None, 30), "older30": (30, None)}
COMPLIANCE_DAYS = 30
MAX_BULK = 200


class Forbidden(CrmError):
    """The user may not act on this case (another department's, or not department staff)."""

    code = "forbidden"


# --- who is where ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The departments a user works for; an admin's scope is every department."""

    user_id: int
    username: str
    role: str
    departments: tuple[str, ...]
    everything: bool = False
    department_ids: tuple[int, ...] = ()  # the same departments by id, as scope_of read them

    @property
    def actor(self) -> Actor:
        return Actor.user(self.user_id, self.username)


@dataclass(frozen=True)
class Membership:
    department: str
    name: str
    is_head: bool


def _user(session: Session, username: str) -> User:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound("user", username)
    return user


def _department(session: Session, code: str, field: str = "department") -> Department:
    dept = session.scalar(sa.select(Department).where(Department.code == code))
    if dept is None:
        raise ValidationError({field: f"unknown department {code!r}"})
    return dept


def add_member(db: Database, username: str, department: str, *, head: bool = False) -> Membership:
    with db.writing() as session:
        user = _user(session, username)
        if user.role not in ("department_staff", "admin"):
            raise ValidationError({"username": f"{username} is {user.role}; only department staff "
                                               "(or admins) belong to departments"})
        dept = _department(session, department)
        row = session.get(DepartmentMember, (user.id, dept.id))
        if row is None:
            session.add(DepartmentMember(user_id=user.id, department_id=dept.id, is_head=head))
        else:
            row.is_head = head
        return Membership(dept.code, dept.name, head)


def remove_member(db: Database, username: str, department: str) -> bool:
    with db.writing() as session:
        user = _user(session, username)
        dept = _department(session, department)
        row = session.get(DepartmentMember, (user.id, dept.id))
        if row is None:
            return False
        session.delete(row)
        return True


def memberships(db: Database, username: str) -> list[Membership]:
    with db.reading() as session:
        user = _user(session, username)
        rows = session.execute(
            sa.select(Department.code, Department.name, DepartmentMember.is_head)
            .join(DepartmentMember, DepartmentMember.department_id == Department.id)
            .where(DepartmentMember.user_id == user.id).order_by(Department.code))
        return [Membership(c, n, h) for c, n, h in rows]


def list_departments(db: Database) -> list[tuple[str, str]]:
    with db.reading() as session:
        return [(c, n) for c, n in session.execute(
            sa.select(Department.code, Department.name).where(Department.is_active)
            .order_by(Department.code))]


def set_share_contact(db: Database, department: str, share: bool) -> None:
    with db.writing() as session:
        _department(session, department).share_resident_contact = share


def scope_of(db: Database, user_id: int) -> Scope:
    with db.reading() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise NotFound("user", user_id)
        found = session.execute(
            sa.select(Department.code, Department.id)
            .join(DepartmentMember, DepartmentMember.department_id == Department.id)
            .where(DepartmentMember.user_id == user.id).order_by(Department.code)).all()
        return Scope(user.id, user.username, user.role, tuple(c for c, _ in found),
                     everything=user.role == "admin", department_ids=tuple(i for _, i in found))


def _scope_ids(session: Session, scope: Scope) -> list[int] | None:
    """Department ids of the scope, None for every department."""
    if scope.everything:
        return None
    if scope.role != "department_staff" or not scope.departments:
        return []
    if len(scope.department_ids) == len(scope.departments):
        return list(scope.department_ids)
    return list(session.scalars(sa.select(Department.id).where(Department.code.in_(scope.departments))))


def _check_scope(session: Session, scope: Scope, case: Case) -> None:
    ids = _scope_ids(session, scope)
    if ids is None:  # an admin sees every case, also one the center has not forwarded yet
        return
    if case.status == S.NEW or case.department_id not in ids:
        raise Forbidden(f"case {case.number} is not a case of your department")


# --- the inbox ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    tab: str = "open"
    category: str | None = None
    district: str | None = None
    status: str | None = None
    age: str | None = None
    q: str | None = None
    department: str | None = None
    limit: int = 100
    after: str | None = None  # the page after this one: `Inbox.next_after` of the previous


@dataclass(frozen=True)
class InboxRow:
    id: int
    number: str
    status: str
    category: str
    category_name: str
    address: str | None
    district: str | None
    description: str
    department: str | None
    created_at: datetime
    forwarded_at: datetime | None
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    awaiting_resident: bool


@dataclass(frozen=True)
class Compliance:
    department: str
    on_time: int
    done: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.on_time / self.done, 1) if self.done else None


@dataclass(frozen=True)
class Inbox:
    rows: tuple[InboxRow, ...]
    counts: dict[str, int]
    compliance: tuple[Compliance, ...]
    # Tabs whose count stopped at COUNT_CAP (shown as "1000+"): the finished cases of a
    # department grow for ever, and counting them all on every view is what made it slow.
    capped: frozenset[str] = frozenset()
    next_after: str | None = None  # set when there may be a next page


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    day = local_date(now)
    start = datetime.combine(day, time(0, 0), TIMEZONE).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(0, 0), TIMEZONE).astimezone(UTC)


# How the inbox reads (migration 0010; bench.dept_inbox at 500k cases): everything it filters
# on is a column of `cases` (the deadline and the forwarding time are copies of case_work's), so
# the tab counts and the ids of a page come from index-only scans of two partial indexes — a
# department's open cases in deadline order, its finished ones by latest change — and only the
# page's rows are then read. The statuses and departments are written into the SQL as literals:
# a generic plan with parameters could not prove that a partial index's condition holds.
OPEN_VALUES = tuple(s.value for s in WORK_STATUSES)
DONE_VALUES = (S.RESOLVED.value, S.REJECTED.value, S.CLOSED.value)
COUNT_CAP = 1000  # the closed tab's count stops here…
SEARCH_COUNT_CAP = 100  # …and with a search, at a page


def _literal_in(column: Any, values: Any) -> sa.ColumnElement[bool]:
    return column.in_(sa.bindparam(None, list(values), expanding=True, literal_execute=True))  # type: ignore[no-any-return]


def _open_key() -> sa.ColumnElement[Any]:
    """Work to do by deadline, soonest first (a case without one by when it was reported)."""
    return sa.func.coalesce(Case.due_at, Case.created_at)


def _tab_clause(tab: str, now: datetime) -> list[sa.ColumnElement[bool]]:
    """What a tab adds to the open or done cases; the deadline bounds are repeated on the
    index's key (the same value when a case has a deadline) so that they are index ranges."""
    key = _open_key()
    if tab == "new":
        return [Case.status == S.FORWARDED.value]
    if tab == "in_progress":
        return [Case.status == S.IN_PROGRESS.value]
    if tab == "overdue":
        return [Case.due_at < now, key < now]
    if tab == "due_today":
        start, end = _day_bounds(now)
        low = max(start, now)
        return [Case.due_at >= low, Case.due_at < end, key >= low, key < end]
    return []


def _filters(session: Session, f: InboxFilter, now: datetime) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if f.category:
        cat = session.scalar(sa.select(Category).where(Category.code == f.category))
        if cat is None:
            raise ValidationError({"category": f"unknown category {f.category!r}"})
        column = Case.subcategory_id if cat.parent_id is not None else Case.category_id
        found.append(column == cat.id)
    if f.district:
        found.append(Case.district == f.district)
    if f.status:
        found.append(Case.status == f.status)
    if f.age:
        older, younger = AGES[f.age]
        since = sa.func.coalesce(Case.forwarded_at, Case.created_at)
        if younger is not None:
            found.append(since >= now - timedelta(days=younger))
        if older is not None:
            found.append(since < now - timedelta(days=older))
    return found


CASE_NUMBER = re.compile(r"\d{5}/\d{4}/\d{6}")
SEPARATOR = "\x1f"  # the unit separator: stripped from a query, so no match spans two fields
# A case's searchable text as migration 0013's GIN indexes hold it (with the department, as
# trigrams; one index for open cases, one for finished ones) and as its statistics describe it:
# written out as the migration writes it, since PostgreSQL matches index and statistics only to
# the same expression.
SEARCH_TEXT = sa.literal_column(
    f"coalesce(cases.number, '') || '{SEPARATOR}' || coalesce(cases.address, '') || "
    f"'{SEPARATOR}' || coalesce(cases.description, '') || '{SEPARATOR}' || "
    "coalesce(cases.location_text, '')", sa.Text)
UNSEARCHABLE = re.compile(r"[\x00-\x1f%_\\]")  # LIKE's wildcards and escape, the separator


def _search(q: str) -> sa.ColumnElement[bool]:
    """A whole case number is looked up by its unique index (its trigrams are in every number:
    the trigram index read most of them). Other text is a substring of the number, address,
    description or place, found through migration 0013's indexes. The pattern is written into
    the SQL as a literal (quoted by SQLAlchemy), so each search is planned knowing its word:
    a common one walks the department's cases in the page's order, a rare one reads its
    matches from the index; a prepared generic plan would pick one way for every word."""
    if CASE_NUMBER.fullmatch(q):
        return Case.number == q
    pattern = f"%{UNSEARCHABLE.sub('', q)}%"
    return SEARCH_TEXT.ilike(sa.bindparam(None, pattern, sa.String, literal_execute=True))


def _among(where: list[sa.ColumnElement[bool]], f: InboxFilter, now: datetime, *,
           done: bool) -> list[sa.ColumnElement[bool]]:
    """The filters on the open or the finished cases."""
    found = [*where, _literal_in(Case.status, DONE_VALUES if done else OPEN_VALUES)]
    younger = AGES[f.age][1] if f.age else None
    if done and younger is not None:
        # A case changes (updated_at) when it is forwarded, so one forwarded since the bound
        # changed since then too: the closed tab walks its index by latest change only back to
        # the bound, not through every case the department ever closed.
        found.append(Case.updated_at >= now - timedelta(days=younger))
    if f.q and f.q.strip():
        found.append(_search(f.q.strip()))
    return found


def _compliance_columns(department_id: int, now: datetime) -> list[Any]:
    """One department's compliance figure as three scalar subqueries (its code, finished, on
    time): asked in the statement of the tab counts, one round trip fewer per view."""
    finished = sa.select(sa.func.count()).where(
        CaseWork.department_id == department_id, CaseWork.on_time.is_not(None),
        CaseWork.done_at >= now - timedelta(days=COMPLIANCE_DAYS))
    return [sa.select(Department.code).where(Department.id == department_id).scalar_subquery(),
            finished.scalar_subquery(),
            finished.where(CaseWork.on_time.is_(True)).scalar_subquery()]


def _tab_counts(session: Session, where: list[sa.ColumnElement[bool]], f: InboxFilter,
                now: datetime, compliance_of: int | None = None,
                ) -> tuple[dict[str, int], frozenset[str], tuple[Compliance, ...] | None]:
    """Every tab's count in one statement: the open tabs from one pass over the department's
    open cases (index-only), the closed tab counted up to COUNT_CAP (with a search, up to a
    page: what matches among the finished cases is found by reading them); with
    `compliance_of`, that department's compliance figure too (None otherwise)."""
    start, end = _day_bounds(now)
    low = max(start, now)
    columns: list[Any] = []
    if f.status is None or f.status in OPEN_VALUES:
        counted = sa.select(
            sa.func.count().filter(Case.status == S.FORWARDED.value).label("new"),
            sa.func.count().filter(Case.status == S.IN_PROGRESS.value).label("in_progress"),
            sa.func.count().filter(Case.due_at < now).label("overdue"),
            sa.func.count().filter(sa.and_(Case.due_at >= low, Case.due_at < end)).label("due_today"),
        ).where(*_among(where, f, now, done=False)).subquery()
        columns += [counted.c.new, counted.c.in_progress, counted.c.overdue, counted.c.due_today]
    else:
        columns += [sa.literal(0)] * 4
    cap = SEARCH_COUNT_CAP if f.q and f.q.strip() else COUNT_CAP
    if f.status is None or f.status in DONE_VALUES:
        some = sa.select(Case.id).where(*_among(where, f, now, done=True)).limit(cap + 1).subquery()
        columns.append(sa.select(sa.func.count()).select_from(some).scalar_subquery())
    else:
        columns.append(sa.literal(0))
    if compliance_of is not None:
        columns += _compliance_columns(compliance_of, now)
    found = session.connection().execute(sa.select(*columns)).one()
    new, in_progress, overdue, due_today, done = (int(n or 0) for n in found[:5])
    counts = {"open": new + in_progress, "new": new, "overdue": overdue, "due_today": due_today,
              "in_progress": in_progress, "done": min(done, cap)}
    figure = None
    if compliance_of is not None:
        code, finished, on_time = found[5:]
        figure = (Compliance(code, int(on_time or 0), int(finished)),) if code and finished else ()
    return counts, frozenset({"done"} if done > cap else ()), figure


def _cursor(raw: str | None) -> tuple[datetime, int] | None:
    if not raw:
        return None
    at, _, case_id = raw.rpartition("~")
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not case_id.isdigit():
            raise ValueError(raw)
    except ValueError:
        raise ValidationError({"after": "not a page of this inbox"}) from None
    return when, int(case_id)


def _page_ids(ids: list[int] | None, where: list[sa.ColumnElement[bool]],
              f: InboxFilter, now: datetime, limit: int) -> Any:
    """The page's ids and sort keys (keyset pagination: the page after `f.after`), from a
    partial index alone. A member of several departments has them read one by one and merged,
    so that each read follows its index's order and stops at the page's length."""
    done = f.tab == "done"
    key: Any = Case.updated_at if done else _open_key()
    conditions = [*_among(where, f, now, done=done), *_tab_clause(f.tab, now)]
    after = _cursor(f.after)
    if after is not None:
        conditions.append(sa.tuple_(key, Case.id) < after if done else sa.tuple_(key, Case.id) > after)
    order = (key.desc(), Case.id.desc()) if done else (key, Case.id)
    one = sa.select(Case.id.label("id"), key.label("k")).where(*conditions).order_by(*order).limit(limit)
    if ids is None or len(ids) == 1:
        # one department: its range of migration 0010's indexes; every department (an
        # admin): migration 0014's, which hold all departments' cases in the page's order
        return one.subquery()
    parts = [sa.select(sub.c.id, sub.c.k).select_from(sub) for sub in (
        one.where(Case.department_id == b).subquery() for b in ids)]
    return sa.union_all(*parts).subquery()


def inbox(db: Database, scope: Scope, f: InboxFilter, *, at: datetime | None = None) -> Inbox:
    now = at or utcnow()
    errors: dict[str, str] = {}
    if f.tab not in TABS:
        errors["tab"] = f"one of {', '.join(TABS)}"
    if f.status is not None and f.status not in [s.value for s in SEEN_STATUSES]:
        errors["status"] = f"one of {', '.join(s.value for s in SEEN_STATUSES)}"
    if f.district is not None and f.district not in DISTRICTS:
        errors["district"] = f"unknown Warsaw district {f.district!r}"
    if f.age is not None and f.age not in AGES:
        errors["age"] = f"one of {', '.join(AGES)}"
    if f.q is not None and len(f.q) > 100:
        errors["q"] = "at most 100 characters"
    if errors:
        raise ValidationError(errors)
    _cursor(f.after)
    with db.reading() as session:
        ids = _scope_ids(session, scope)
        if f.department is not None:
            dept = _department(session, f.department)
            if ids is not None and dept.id not in ids:
                raise Forbidden(f"{f.department} is not your department")
            ids = [dept.id]
        where = _filters(session, f, now)
        if ids is not None:
            where.append(_literal_in(Case.department_id, ids))
        single = ids[0] if ids is not None and len(ids) == 1 else None
        counts, capped, compliance = _tab_counts(session, where, f, now, single)
        limit = max(1, min(f.limit, 500))
        page = _page_ids(ids, where, f, now, limit)
        done = f.tab == "done"
        cat = aliased(Category)
        listed = (
            sa.select(Case.id, Case.number, Case.status, cat.code, cat.name, Case.address,
                      Case.district, sa.func.substr(Case.description, 1, 160), Department.code,
                      Case.created_at, Case.forwarded_at, Case.due_at, CaseWork.escalation_level,
                      CaseWork.awaiting_resident_since, page.c.k)
            .select_from(page).join(Case, Case.id == page.c.id)
            .join(cat, cat.id == sa.func.coalesce(Case.subcategory_id, Case.category_id))
            .outerjoin(Department, Department.id == Case.department_id)
            .outerjoin(CaseWork, CaseWork.case_id == Case.id)
            .order_by(*((page.c.k.desc(), page.c.id.desc()) if done else (page.c.k, page.c.id)))
            .limit(limit))
        found = session.connection().execute(listed).all()
        rows = []
        for (case_id, number, status, code, name, address, district, description, dept_code,
             created_at, forwarded_at, due_at, level, awaiting, _) in found:
            is_open = status in OPEN_VALUES
            rows.append(InboxRow(
                id=case_id, number=number, status=status, category=code, category_name=name,
                address=address, district=district, description=description,
                department=dept_code, created_at=created_at, forwarded_at=forwarded_at,
                due_at=due_at, overdue=bool(is_open and due_at is not None and due_at < now),
                escalation_level=(level or 0) if is_open else 0,
                awaiting_resident=bool(is_open and awaiting)))
        next_after = None
        if len(found) == limit:
            last = found[-1]
            next_after = f"{_aware(last[-1]).isoformat()}~{last[0]}"
        if compliance is None:
            # Every department by id rather than none named: each is a range of the covering
            # index (without a department, PostgreSQL read all of case_work).
            every = ids if ids is not None else list(session.scalars(sa.select(Department.id)))
            compliance = _compliance(session, every, now)
        return Inbox(tuple(rows), counts, compliance, capped, next_after)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; the cursor always carries its zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _compliance(session: Session, ids: list[int] | None, now: datetime) -> tuple[Compliance, ...]:
    """On-time share of the work finished in the last COMPLIANCE_DAYS, per department: counted
    per department id from a covering index of finished work (migration 0010), then named."""
    where = [CaseWork.on_time.is_not(None), CaseWork.done_at >= now - timedelta(days=COMPLIANCE_DAYS)]
    if ids is not None:
        where.append(_literal_in(CaseWork.department_id, ids))
    figures = (
        sa.select(CaseWork.department_id.label("department_id"), sa.func.count().label("done"),
                  sa.func.count().filter(CaseWork.on_time.is_(True)).label("on_time"))
        .where(*where).group_by(CaseWork.department_id).subquery())
    stmt = (sa.select(Department.code, figures.c.done, figures.c.on_time)
            .join(Department, Department.id == figures.c.department_id).order_by(Department.code))
    return tuple(Compliance(code, int(on_time or 0), int(done)) for code, done, on_time
                 in session.connection().execute(stmt))


def compliance(db: Database, department: str, *, at: datetime | None = None) -> Compliance:
    now = at or utcnow()
    with db.reading() as session:
        dept = _department(session, department)
        found = _compliance(session, [dept.id], now)
        return found[0] if found else Compliance(department, 0, 0)


# --- the case card -----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    from_status: str | None
    to_status: str
    at: datetime
    by: str
    comment: str | None
    public: bool


@dataclass(frozen=True)
class Note:
    at: datetime
    by: str
    text: str


@dataclass(frozen=True)
class Contact:
    name: str | None
    email: str | None
    phones: tuple[str, ...]


@dataclass(frozen=True)
class Card:
    id: int
    number: str
    status: str
    category: str
    category_name: str
    description: str
    address: str | None
    district: str | None
    lat: float | None
    lon: float | None
    location_text: str | None
    department: str | None
    department_name: str | None
    created_at: datetime
    duplicate_of: str | None
    forwarded_at: datetime | None
    due_at: datetime | None
    sla_hours: int | None
    overdue: bool
    escalation_level: int
    returns: int
    awaiting_resident: bool
    history: tuple[HistoryEntry, ...]
    notes: tuple[Note, ...]
    consultant_notes: tuple[str, ...]
    contact: Contact | None  # None: the department does not see residents' contacts

    @property
    def actionable(self) -> bool:
        return self.status in (S.FORWARDED.value, S.IN_PROGRESS.value)


def card(db: Database, scope: Scope, case_id: int, *, at: datetime | None = None) -> Card:
    now = at or utcnow()
    with db.reading() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound("case", case_id)
        _check_scope(session, scope, case)
        work = session.get(CaseWork, case.id)
        cat = case.subcategory or case.category
        notes = session.scalars(sa.select(CaseNote).where(CaseNote.case_id == case.id)
                                .order_by(CaseNote.id)).all()
        consultant = session.scalars(
            sa.select(Interaction.notes)
            .join(case_interactions, case_interactions.c.interaction_id == Interaction.id)
            .where(case_interactions.c.case_id == case.id, Interaction.notes.is_not(None))
            .order_by(Interaction.started_at)).all()
        contact = None
        if case.resident_id is not None and (
                scope.everything or (case.department and case.department.share_resident_contact)):
            resident = session.get(Resident, case.resident_id)
            if resident is not None:
                contact = Contact(resident.name, resident.email,
                                  tuple(p.number for p in resident.phones))
        duplicate = (session.scalar(sa.select(Case.number).where(Case.id == case.duplicate_of_id))
                     if case.duplicate_of_id else None)
        is_open = case.status in [s.value for s in WORK_STATUSES]
        return Card(
            id=case.id, number=case.number, status=case.status, category=cat.code,
            category_name=cat.name, description=case.description, address=case.address,
            district=case.district, lat=case.lat, lon=case.lon, location_text=case.location_text,
            department=case.department.code if case.department else None,
            department_name=case.department.name if case.department else None,
            created_at=case.created_at, duplicate_of=duplicate,
            forwarded_at=work.forwarded_at if work else None,
            due_at=work.due_at if work else None, sla_hours=work.sla_hours if work else None,
            overdue=bool(work and is_open and work.due_at < now),
            escalation_level=work.escalation_level if work and is_open else 0,
            returns=work.returns if work else 0,
            awaiting_resident=bool(work and is_open and work.awaiting_resident_since),
            history=tuple(HistoryEntry(h.from_status, h.to_status, h.at, h.by_label, h.comment,
                                       h.public) for h in case.history),
            notes=tuple(Note(n.at, n.by_label, n.text) for n in notes),
            consultant_notes=tuple(n for n in consultant if n),
            contact=contact,
        )


# --- actions -----------------------------------------------------------------------------


def _text(value: str | None, field: str, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError({field: "must not be empty"})
    if len(text) > MAX_COMMENT:
        raise ValidationError({field: f"at most {MAX_COMMENT} characters"})
    return text


def _locked(session: Session, scope: Scope, case_id: int) -> Case:
    case = session.scalar(sa.select(Case).where(Case.id == case_id).with_for_update())
    if case is None:
        raise NotFound("case", case_id)
    _check_scope(session, scope, case)
    return case


def _move(case: Case, wanted: CaseStatus, scope: Scope, comment: str | None, now: datetime,
          *, public: bool = False) -> None:
    current = CaseStatus(case.status)
    if wanted not in TRANSITIONS[current] and not (wanted == current == S.FORWARDED):
        raise TransitionError(current.value, wanted.value, tuple(TRANSITIONS[current]))
    _set_status(case, current, wanted, scope.actor, comment, now, public=public)


def _must_be_open(case: Case, wanted: CaseStatus) -> None:
    if case.status not in [s.value for s in WORK_STATUSES]:
        current = CaseStatus(case.status)
        raise TransitionError(current.value, wanted.value, tuple(TRANSITIONS[current]))


def accept(db: Database, scope: Scope, case_id: int, *, at: datetime | None = None) -> None:
    """forwarded → in_progress: the department takes the case on."""
    now = at or utcnow()
    with db.writing() as session:
        case = _locked(session, scope, case_id)
        if case.status != S.FORWARDED.value:
            current = CaseStatus(case.status)
            raise TransitionError(current.value, S.IN_PROGRESS.value, tuple(TRANSITIONS[current]))
        _move(case, S.IN_PROGRESS, scope, None, now)
        work_of(session, case, now).accepted_at = now


def _finish(db: Database, scope: Scope, case_id: int, wanted: CaseStatus, answer: str,
            at: datetime | None) -> None:
    now = at or utcnow()
    text = _text(answer, "answer")
    with db.writing() as session:
        case = _locked(session, scope, case_id)
        _must_be_open(case, wanted)
        _move(case, wanted, scope, text, now, public=True)
        work = work_of(session, case, now)
        work.done_at = now
        work.on_time = now <= work.due_at
        work.awaiting_resident_since = None


def resolve(db: Database, scope: Scope, case_id: int, answer: str, *,
            at: datetime | None = None) -> None:
    """→ resolved, with the answer the resident reads."""
    _finish(db, scope, case_id, S.RESOLVED, answer, at)


def reject(db: Database, scope: Scope, case_id: int, answer: str, *,
           at: datetime | None = None) -> None:
    """→ rejected, with the reason the resident reads."""
    _finish(db, scope, case_id, S.REJECTED, answer, at)


def return_to_center(db: Database, scope: Scope, case_id: int, reason: str, *,
                     at: datetime | None = None) -> None:
    """Wrong unit: the case goes back to the center (`new`, department CKM) to be re-routed;
    the return is counted on the case."""
    now = at or utcnow()
    text = _text(reason, "reason")
    with db.writing() as session:
        case = _locked(session, scope, case_id)
        _must_be_open(case, S.NEW)
        if case.status == S.IN_PROGRESS.value:  # the lifecycle goes back through forwarded
            _move(case, S.FORWARDED, scope, None, now)
        _move(case, S.NEW, scope, f"zwrot do centrum: {text}", now)
        work = work_of(session, case, now)
        work.returns += 1
        work.done_at = None
        work.on_time = None
        center = session.scalar(sa.select(Department).where(Department.code == CENTER_DEPARTMENT))
        case.department = center


def reassign(db: Database, scope: Scope, case_id: int, department: str,
             comment: str | None = None, *, at: datetime | None = None) -> None:
    """To another department: the case is forwarded there and its deadline starts again."""
    now = at or utcnow()
    text = _text(comment, "comment", required=False) or None
    with db.writing() as session:
        case = _locked(session, scope, case_id)
        target = _department(session, department)
        if not target.is_active:
            raise ValidationError({"department": f"{department} is not active"})
        if target.id == case.department_id:
            raise ValidationError({"department": f"the case is already with {department}"})
        _must_be_open(case, S.FORWARDED)
        note = f"przekazano do {target.code}" + (f": {text}" if text else "")
        _move(case, S.FORWARDED, scope, note, now)
        case.department = target
        session.flush()
        start_clock(session, case, now)
        enqueue_forward(session, case, now, ref=str(case.history[-1].id))


def add_note(db: Database, scope: Scope, case_id: int, text: str, *,
             at: datetime | None = None) -> None:
    """An internal note: for the center and departments only."""
    now = at or utcnow()
    body = _text(text, "note")
    with db.writing() as session:
        case = _locked(session, scope, case_id)
        session.add(CaseNote(case_id=case.id, at=now, by_user_id=scope.user_id,
                             by_label=scope.username[:80], text=body))


def ask_resident(db: Database, scope: Scope, case_id: int, question: str, *,
                 at: datetime | None = None) -> None:
    """A question to the resident: a public status note (the status stays what it is), and
    the case is marked as waiting for the resident's answer."""
    now = at or utcnow()
    text = _text(question, "question")
    with db.writing() as session:
        case = _locked(session, scope, case_id)
        _must_be_open(case, CaseStatus(case.status))
        current = CaseStatus(case.status)
        _set_status(case, current, current, scope.actor, text, now, public=True)
        work_of(session, case, now).awaiting_resident_since = now


def close_duplicates(db: Database, scope: Scope, original_id: int, case_ids: list[int], *,
                     at: datetime | None = None) -> int:
    """Close many cases as duplicates of one, all in one transaction: all or nothing."""
    now = at or utcnow()
    wanted = [i for i in dict.fromkeys(case_ids) if i != original_id]
    if not wanted:
        raise ValidationError({"case_ids": "name at least one case besides the original"})
    if len(wanted) > MAX_BULK:
        raise ValidationError({"case_ids": f"at most {MAX_BULK} at once"})
    with db.writing() as session:
        original = _locked(session, scope, original_id)
        if original.duplicate_of_id is not None:
            raise ValidationError({"duplicate_of": f"{original.number} is itself a duplicate"})
        for case_id in wanted:
            case = _locked(session, scope, case_id)
            _must_be_open(case, S.CLOSED)
            case.duplicate_of_id = original.id
            _move(case, S.CLOSED, scope, f"duplikat zgłoszenia {original.number}", now, public=True)
            work = work_of(session, case, now)
            work.done_at = now
            work.on_time = None  # a duplicate is not counted for or against the department
    return len(wanted)


def escalation_recipients(db: Database, case_id: int) -> list[str]:
    """Who an escalated case is for now: the department's heads (level 1), then the center's
    supervisors too (level 2)."""
    with db.reading() as session:
        work = session.get(CaseWork, case_id)
        if work is None or work.escalation_level == 0:
            return []
        heads = list(session.scalars(
            sa.select(User.username).join(DepartmentMember, DepartmentMember.user_id == User.id)
            .where(DepartmentMember.department_id == work.department_id,
                   DepartmentMember.is_head, User.is_active).order_by(User.username)))
        if work.escalation_level >= 2:
            heads += list(session.scalars(sa.select(User.username).where(
                User.role == "supervisor", User.is_active).order_by(User.username)))
        return heads


@dataclass(frozen=True)
class Escalated:
    id: int
    number: str
    department: str | None
    category_name: str
    due_at: datetime
    escalation_level: int


def escalated(db: Database, *, min_level: int = 2, limit: int = 50) -> list[Escalated]:
    """Open cases escalated at least to `min_level` (2: the center's supervisors), longest
    overdue first: what the wallboard shows."""
    with db.reading() as session:
        rows = session.execute(
            sa.select(Case.id, Case.number, Department.code, Category.name, CaseWork.due_at,
                      CaseWork.escalation_level)
            .join(CaseWork, CaseWork.case_id == Case.id)
            .join(Category, Category.id == sa.func.coalesce(Case.subcategory_id, Case.category_id))
            .outerjoin(Department, Department.id == Case.department_id)
            .where(Case.status.in_([s.value for s in WORK_STATUSES]),
                   CaseWork.escalation_level >= min_level)
            .order_by(CaseWork.due_at).limit(limit))
        return [Escalated(*row) for row in rows]
