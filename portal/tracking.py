"""What the public may see of a case: status, its history, place, category, photos.

Never the resident, their contact details or who on staff acted (only "19115" or the
department). The Open311 `service_request_id` is the case number with '-' for '/', so it fits in
a URL path: 19115/2026/000123 ↔ 19115-2026-000123.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from crm_core.db import Database
from crm_core.models import OPEN_STATUSES, Case, Category
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


def _public(case: Case) -> PublicCase:
    service = case.subcategory or case.category
    return PublicCase(
        id=case.id,
        number=case.number,
        status=case.status,
        service_code=service.code,
        service_name=service.name,
        description=case.description,
        address=case.address,
        district=case.district,
        lat=case.lat,
        lon=case.lon,
        agency=case.department.name if case.department else None,
        created_at=case.created_at,
        updated_at=case.updated_at,
        history=tuple(PublicChange(h.to_status, h.at, h.comment) for h in case.history),
    )


def _select() -> sa.Select[Case]:
    return sa.select(Case).options(
        joinedload(Case.category), joinedload(Case.subcategory), joinedload(Case.department),
        selectinload(Case.history),
    )


def by_token(db: Database, token: str) -> PublicCase | None:
    if not token or len(token) > 100:
        return None
    with db.reading() as session:
        case = session.scalar(_select().where(Case.tracking_token_hash == token_hash(token)))
        return _public(case) if case is not None else None


def by_number_and_token(db: Database, number: str, token: str) -> PublicCase | None:
    """Both must match; the answer is the same 'not found' whichever was wrong."""
    found = by_token(db, token)
    if found is None or not hmac.compare_digest(found.number.encode(), number.strip().encode()):
        return None
    return found


def by_number(db: Database, number: str) -> PublicCase | None:
    with db.reading() as session:
        case = session.scalar(_select().where(Case.number == number))
        return _public(case) if case is not None else None


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
    with db.reading() as session:
        return [_public(c) for c in session.scalars(stmt).unique().all()]


def list_categories(db: Database) -> list[tuple[str, str, str | None]]:
    from crm_core.services.routing import list_categories as crm_list

    return [(c.code, c.name, c.parent) for c in crm_list(db)]
