"""What the public may see of a case: status, its history, place, category, photos.

Never the resident, their contact details or who on staff acted (only "19115" or the
department). The Open311 `service_request_id` is the case number with '-' for '/', so it fits in
a URL path: 19115/2026/000123 ↔ 19115-2026-000123.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import OPEN_STATUSES, Case, CaseStatusChange, CaseWork, Category, Department
from crm_core.services.cases import token_hash


def request_id(number: str) -> str:
    return number.replace("/", "-")


def case_number(request_id_text: str) -> str:
    return request_id_text.replace("-", "/")


@dataclass(frozen=True)
class PublicChange:
    status: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class PublicCase:
    id: int
    number: str
    status: str  # CRM status (new, forwarded, ...)
    service_code: str
    service_name: str
    description: str
    address: str | None
    district: str | None
    lat: float | None
    lon: float | None
    agency: str | None
    created_at: datetime
    updated_at: datetime
    history: tuple[PublicChange, ...]
    # The department's deadline (crm_core.services.sla), once the case was forwarded to one:
    # Open311's expected_datetime and the tracking page's "expected by".
    due_at: datetime | None = None
    # Set while the department waits for the resident's answer to its question.
    awaiting_since: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def request_id(self) -> str:
        return request_id(self.number)

    @property
    def status_notes(self) -> str | None:
        for change in reversed(self.history):
            if change.note:
                return change.note
        return None

    @property
    def question(self) -> str | None:
        """The department's question waiting for the resident's answer (the public note it
        was asked with), while the case is open."""
        if self.awaiting_since is None or not self.is_open:
            return None
        for change in reversed(self.history):
            if change.note and change.at >= self.awaiting_since:
                return change.note
        return None

    @property
    def answer(self) -> PublicChange | None:
        """The department's public answer: the note of the last resolve or reject."""
        for change in reversed(self.history):
            if change.status in ("resolved", "rejected"):
                return change if change.note else None
        return None


# Plain column reads, not ORM objects: a page of 50 requests costs ~5 ms instead of ~30 ms
# (the API's list is the portal's hot path).
_main = sa.orm.aliased(Category)
_sub = sa.orm.aliased(Category)
_COLUMNS = (
    Case.id, Case.number, Case.status, sa.func.coalesce(_sub.code, _main.code),
    sa.func.coalesce(_sub.name, _main.name), Case.description, Case.address, Case.district, Case.lat,
    Case.lon, Department.name, Case.created_at, Case.updated_at, CaseWork.due_at,
    CaseWork.awaiting_resident_since,
)


def _reading(db: Database) -> sa.Connection:
    # On PostgreSQL crm_core keeps an autocommit pool for single-statement reads: no
    # BEGIN/ROLLBACK round trips. The two reads of a page need no common snapshot (a status
    # change between them only shows one step early or late).
    return db.autocommit_engine.connect()


def _select() -> sa.Select[*tuple[Any, ...]]:
    return (
        sa.select(*_COLUMNS)
        .join(_main, _main.id == Case.category_id)
        .outerjoin(_sub, _sub.id == Case.subcategory_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(CaseWork, CaseWork.case_id == Case.id)
    )


def _load(session: sa.Connection, stmt: sa.Select[*tuple[Any, ...]]) -> list[PublicCase]:
    rows = session.execute(stmt).all()
    if not rows:
        return []
    history: dict[int, list[PublicChange]] = {}
    for case_id, status, at, note, public in session.execute(
        sa.select(CaseStatusChange.case_id, CaseStatusChange.to_status, CaseStatusChange.at,
                  CaseStatusChange.comment, CaseStatusChange.public)
        .where(CaseStatusChange.case_id.in_([r[0] for r in rows]))
        .order_by(CaseStatusChange.case_id, CaseStatusChange.id)
    ):
        # A staff comment not marked public is an internal remark: the change shows, its text not.
        history.setdefault(case_id, []).append(PublicChange(status, at, note if public else None))
    return [
        PublicCase(
            id=r[0], number=r[1], status=r[2], service_code=r[3], service_name=r[4], description=r[5],
            address=r[6], district=r[7], lat=r[8], lon=r[9], agency=r[10], created_at=r[11],
            updated_at=r[12], history=tuple(history.get(r[0], ())), due_at=r[13],
            awaiting_since=r[14],
        )
        for r in rows
    ]


def by_token(db: Database, token: str) -> PublicCase | None:
    if not token or len(token) > 100:
        return None
    with _reading(db) as session:
        found = _load(session, _select().where(Case.tracking_token_hash == token_hash(token)))
        return found[0] if found else None


def by_number_and_token(db: Database, number: str, token: str) -> PublicCase | None:
    """Both must match; the answer is the same 'not found' whichever was wrong."""
    found = by_token(db, token)
    if found is None or not hmac.compare_digest(found.number.encode(), number.strip().encode()):
        return None
    return found


def by_number(db: Database, number: str) -> PublicCase | None:
    with _reading(db) as session:
        found = _load(session, _select().where(Case.number == number))
        return found[0] if found else None


@dataclass(frozen=True)
class RequestQuery:
    numbers: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    open_only: bool | None = None  # None: both
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    page_size: int = 50


def find(db: Database, q: RequestQuery) -> list[PublicCase]:
    stmt = _select().order_by(Case.created_at.desc(), Case.id.desc())
    if q.numbers:
        stmt = stmt.where(Case.number.in_(q.numbers))
    if q.service_codes:
        codes = sa.select(Category.id).where(Category.code.in_(q.service_codes)).scalar_subquery()
        stmt = stmt.where(sa.or_(Case.subcategory_id.in_(codes), Case.category_id.in_(codes)))
    if q.open_only is not None:
        open_values = [s.value for s in OPEN_STATUSES]
        stmt = stmt.where(Case.status.in_(open_values) if q.open_only else Case.status.not_in(open_values))
    if q.start is not None:
        stmt = stmt.where(Case.created_at >= q.start)
    if q.end is not None:
        stmt = stmt.where(Case.created_at <= q.end)
    stmt = stmt.limit(q.page_size).offset((q.page - 1) * q.page_size)
    with _reading(db) as session:
        return _load(session, stmt)


def list_categories(db: Database) -> list[tuple[str, str, str | None]]:
    from crm_core.services.routing import list_categories as crm_list

    return [(c.code, c.name, c.parent) for c in crm_list(db)]
