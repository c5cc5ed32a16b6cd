"""Cases (zgłoszenia): creation with field-level validation, updates, the status lifecycle,
duplicate suggestion and portal tracking.

Lifecycle (h11-style: a table, and an illegal move raises leaving the case untouched):
new → forwarded → in_progress → resolved | rejected | closed. A department may hand a case back
(forwarded → new), a resolved case may be reopened (resolved → in_progress), and any open case
may be closed directly — that is how duplicates are retired.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, selectinload

from crm_core.db import Database
from crm_core.errors import NotFound, TransitionError, ValidationError
from crm_core.models import (
    CHANNELS,
    OPEN_STATUSES,
    Case,
    CaseNumberCounter,
    CaseStatus,
    CaseStatusChange,
    Category,
    Department,
    Interaction,
    Resident,
    case_interactions,
    utcnow,
)
from crm_core.notifications import store as notifications
from crm_core.services.forwarding import enqueue_forward
from crm_core.services.routing import find_category, route
from crm_core.services.sla import start_clock
from crm_core.warsaw import DISTRICTS, LAT_RANGE, LON_RANGE

S = CaseStatus
# Where a case's work ends (the case reports' time to resolve runs to the last of them).
FINISHED_STATUSES = frozenset({S.RESOLVED.value, S.REJECTED.value, S.CLOSED.value})
# Loaded with every case that becomes a view, so a list of cases is a few queries, not hundreds.
_VIEW_LOADS = (
    joinedload(Case.category),
    joinedload(Case.subcategory),
    joinedload(Case.department),
    selectinload(Case.history),
)
TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    S.NEW: (S.FORWARDED, S.IN_PROGRESS, S.REJECTED, S.CLOSED),
    S.FORWARDED: (S.IN_PROGRESS, S.RESOLVED, S.REJECTED, S.NEW, S.CLOSED),
    S.IN_PROGRESS: (S.RESOLVED, S.REJECTED, S.FORWARDED, S.CLOSED),
    S.RESOLVED: (S.CLOSED, S.IN_PROGRESS),
    S.REJECTED: (S.CLOSED, S.NEW),
    S.CLOSED: (),
}
MAX_DESCRIPTION = 5000
MAX_COMMENT = 2000
CASE_PREFIX = "19115"


@dataclass(frozen=True)
class Actor:
    """Who acts on a case: a logged-in user, or a channel/system named in words."""

    label: str
    user_id: int | None = None

    @classmethod
    def user(cls, user_id: int, username: str) -> Actor:
        return cls(label=username, user_id=user_id)


@dataclass(frozen=True)
class NewCase:
    category: str  # category or subcategory code
    description: str
    subcategory: str | None = None
    priority: int = 2
    address: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    location_text: str | None = None
    resident_id: int | None = None
    channel: str = "phone"
    interaction_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CaseChanges:
    """Fields to change; None leaves a field as it is."""

    description: str | None = None
    priority: int | None = None
    address: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    location_text: str | None = None
    category: str | None = None
    subcategory: str | None = None


@dataclass(frozen=True)
class StatusChangeView:
    from_status: str | None
    to_status: str
    at: datetime
    by: str
    comment: str | None
    public: bool = False  # the comment is shown to the resident and in open data


@dataclass(frozen=True)
class CaseView:
    id: int
    number: str
    status: str
    category: str
    category_name: str
    subcategory: str | None
    description: str
    priority: int
    address: str | None
    district: str | None
    lat: float | None
    lon: float | None
    location_text: str | None
    department: str | None
    department_name: str | None
    resident_id: int | None
    duplicate_of: str | None
    channel: str
    created_at: datetime
    updated_at: datetime
    history: tuple[StatusChangeView, ...] = ()
    interaction_ids: tuple[int, ...] = ()
    subcategory_name: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class CreatedCase:
    case: CaseView
    # Shown once to the resident (SMS / portal); only its hash is stored.
    tracking_token: str


@dataclass(frozen=True)
class DuplicateCandidate:
    case: CaseView
    distance_m: float


@dataclass
class _Errors:
    fields: dict[str, str] = field(default_factory=dict)

    def check(self, ok: bool, name: str, message: str) -> None:
        if not ok and name not in self.fields:
            self.fields[name] = message

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationError(self.fields)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_location_fields(
    errors: _Errors,
    address: str | None,
    district: str | None,
    lat: float | None,
    lon: float | None,
    location_text: str | None,
) -> None:
    errors.check(address is None or len(address) <= 200, "address", "at most 200 characters")
    errors.check(
        district is None or district in DISTRICTS,
        "district",
        f"unknown Warsaw district {district!r}",
    )
    errors.check((lat is None) == (lon is None), "lat", "give both lat and lon, or neither")
    if lat is not None:
        errors.check(LAT_RANGE[0] <= lat <= LAT_RANGE[1], "lat", f"{lat} is outside Warsaw {LAT_RANGE}")
    if lon is not None:
        errors.check(LON_RANGE[0] <= lon <= LON_RANGE[1], "lon", f"{lon} is outside Warsaw {LON_RANGE}")
    errors.check(
        location_text is None or len(location_text) <= 500,
        "location_text",
        "at most 500 characters",
    )


def _check_text(errors: _Errors, description: str | None, priority: int | None) -> None:
    if description is not None:
        errors.check(bool(description.strip()), "description", "must not be empty")
        errors.check(
            len(description) <= MAX_DESCRIPTION,
            "description",
            f"at most {MAX_DESCRIPTION} characters (got {len(description)})",
        )
    if priority is not None:
        errors.check(priority in (1, 2, 3, 4), "priority", f"expected 1 to 4, got {priority!r}")


def _categories(
    session: Session, errors: _Errors, category: str, subcategory: str | None
) -> tuple[Category | None, Category | None]:
    """Resolve codes; a subcategory code alone in `category` is accepted and split."""
    try:
        main = find_category(session, category)
    except ValidationError as exc:
        errors.fields.update(exc.fields)
        return None, None
    sub: Category | None = None
    if main.parent_id is not None:
        sub, main_found = main, session.get(Category, main.parent_id)
        assert main_found is not None
        main = main_found
    if subcategory is not None:
        try:
            sub = find_category(session, subcategory, "subcategory")
        except ValidationError as exc:
            errors.fields.update(exc.fields)
            return main, None
        errors.check(
            sub.parent_id == main.id,
            "subcategory",
            f"{subcategory!r} is not a subcategory of {main.code!r}",
        )
    return main, sub


def _next_number(session: Session, year: int) -> str:
    """Allocate the next case number of `year`. The counter row is updated in place with
    UPDATE … RETURNING: PostgreSQL row-locks it until commit, SQLite holds the write lock
    (BEGIN IMMEDIATE), so two consoles never get the same number and no number is skipped
    unless a transaction rolls back."""
    bump = (
        sa.update(CaseNumberCounter)
        .where(CaseNumberCounter.year == year)
        .values(last_value=CaseNumberCounter.last_value + 1)
        .returning(CaseNumberCounter.last_value)
    )
    value = session.execute(bump).scalar()
    if value is None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(CaseNumberCounter).values(year=year, last_value=0).on_conflict_do_nothing())
        value = session.execute(bump).scalar_one()
    return f"{CASE_PREFIX}/{year}/{value:06d}"


def _view(session: Session, case: Case) -> CaseView:
    duplicate_number = (
        session.scalar(sa.select(Case.number).where(Case.id == case.duplicate_of_id))
        if case.duplicate_of_id is not None
        else None
    )
    links = session.scalars(
        sa.select(case_interactions.c.interaction_id)
        .where(case_interactions.c.case_id == case.id)
        .order_by(case_interactions.c.interaction_id)
    ).all()
    return CaseView(
        id=case.id,
        number=case.number,
        status=case.status,
        category=case.category.code,
        category_name=case.category.name,
        subcategory=case.subcategory.code if case.subcategory else None,
        description=case.description,
        priority=case.priority,
        address=case.address,
        district=case.district,
        lat=case.lat,
        lon=case.lon,
        location_text=case.location_text,
        department=case.department.code if case.department else None,
        department_name=case.department.name if case.department else None,
        resident_id=case.resident_id,
        duplicate_of=duplicate_number,
        channel=case.source_channel,
        created_at=case.created_at,
        updated_at=case.updated_at,
        history=tuple(
            StatusChangeView(h.from_status, h.to_status, h.at, h.by_label, h.comment, h.public)
            for h in case.history
        ),
        interaction_ids=tuple(links),
        subcategory_name=case.subcategory.name if case.subcategory else None,
    )


def create_case(db: Database, draft: NewCase, *, by: Actor, at: datetime | None = None) -> CreatedCase:
    """Validate every field, then write the case, its first history entry and its links in one
    transaction; routes it to a department by category and district."""
    now = at or utcnow()
    errors = _Errors()
    _check_text(errors, draft.description, draft.priority)
    _check_location_fields(errors, draft.address, draft.district, draft.lat, draft.lon, draft.location_text)
    errors.check(
        bool(draft.address or draft.lat is not None or draft.location_text),
        "location",
        "give an address, a point (lat/lon) or a description of the place",
    )
    errors.check(draft.channel in CHANNELS, "channel", f"expected one of {', '.join(CHANNELS)}")
    with db.writing() as session:
        main, sub = _categories(session, errors, draft.category, draft.subcategory)
        if draft.resident_id is not None:
            errors.check(
                session.get(Resident, draft.resident_id) is not None,
                "resident_id",
                f"no resident {draft.resident_id}",
            )
        if draft.interaction_ids:
            found = set(
                session.scalars(sa.select(Interaction.id).where(Interaction.id.in_(draft.interaction_ids)))
            )
            missing = sorted(set(draft.interaction_ids) - found)
            errors.check(not missing, "interaction_ids", f"no interactions {missing}")
        errors.raise_if_any()
        assert main is not None
        department = route(session, sub or main, draft.district)
        token = secrets.token_urlsafe(16)  # 128 random bits
        case = Case(
            number=_next_number(session, now.year),
            status=S.NEW.value,
            category=main,
            subcategory=sub,
            description=draft.description.strip(),
            priority=draft.priority,
            address=draft.address,
            district=draft.district,
            lat=draft.lat,
            lon=draft.lon,
            location_text=draft.location_text,
            department=department,
            resident_id=draft.resident_id,
            source_channel=draft.channel,
            tracking_token_hash=token_hash(token),
            created_by_id=by.user_id,
            created_at=now,
            updated_at=now,
        )
        case.history.append(
            CaseStatusChange(
                from_status=None,
                to_status=S.NEW.value,
                at=now,
                by_user_id=by.user_id,
                by_label=by.label[:80],
                comment=None,
            )
        )
        session.add(case)
        session.flush()
        for interaction_id in dict.fromkeys(draft.interaction_ids):
            session.execute(
                sa.insert(case_interactions).values(case_id=case.id, interaction_id=interaction_id)
            )
        return CreatedCase(_view(session, case), token)


def _load(session: Session, case_id: int, *, lock: bool = False) -> Case:
    stmt = sa.select(Case).where(Case.id == case_id)
    case = session.scalar(stmt.with_for_update() if lock else stmt)
    if case is None:
        raise NotFound("case", case_id)
    return case


def get_case(db: Database, case_id: int) -> CaseView:
    with db.reading() as session:
        return _view(session, _load(session, case_id))


def get_case_by_number(db: Database, number: str) -> CaseView:
    with db.reading() as session:
        case = session.scalar(sa.select(Case).where(Case.number == number))
        if case is None:
            raise NotFound("case", number)
        return _view(session, case)


def find_case_by_token(db: Database, token: str) -> CaseView:
    """The portal's 'where is my report' lookup by the secret tracking token."""
    with db.reading() as session:
        case = session.scalar(sa.select(Case).where(Case.tracking_token_hash == token_hash(token)))
        if case is None:
            raise NotFound("case", "tracking token")
        return _view(session, case)


def update_case(
    db: Database, case_id: int, changes: CaseChanges, *, by: Actor, at: datetime | None = None
) -> CaseView:
    """Change a case's details; a new category or district re-routes a case still `new`."""
    now = at or utcnow()
    errors = _Errors()
    _check_text(errors, changes.description, changes.priority)
    _check_location_fields(
        errors, changes.address, changes.district, changes.lat, changes.lon, changes.location_text
    )
    with db.writing() as session:
        case = _load(session, case_id, lock=True)
        errors.check(case.status in OPEN_STATUSES, "status", f"case is {case.status}; it cannot be edited")
        main: Category | None = None
        sub: Category | None = None
        if changes.category is not None or changes.subcategory is not None:
            main, sub = _categories(
                session, errors, changes.category or case.category.code, changes.subcategory
            )
        errors.raise_if_any()
        for name in ("description", "priority", "address", "district", "lat", "lon", "location_text"):
            value = getattr(changes, name)
            if value is not None:
                setattr(case, name, value.strip() if name == "description" else value)
        if main is not None:
            case.category = main
            case.subcategory = sub
        if case.status == S.NEW and (main is not None or changes.district is not None):
            case.department = route(session, case.subcategory or case.category, case.district)
        case.updated_at = now
        session.flush()
        return _view(session, case)


def transition_case(
    db: Database,
    case_id: int,
    to_status: str,
    *,
    by: Actor,
    comment: str | None = None,
    public: bool = False,
    department: str | None = None,
    at: datetime | None = None,
) -> CaseView:
    """Move a case along its lifecycle, recording who, when and why. Forwarding may name the
    department (by code); otherwise the routed one is kept. The comment reaches the resident
    (tracking page) and open data (Open311 status_notes) only when `public`."""
    now = at or utcnow()
    try:
        wanted = CaseStatus(to_status)
    except ValueError:
        raise ValidationError(
            {"status": f"unknown status {to_status!r}; one of {', '.join(s.value for s in S)}"}
        ) from None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ValidationError({"comment": f"at most {MAX_COMMENT} characters"})
    with db.writing() as session:
        case = _load(session, case_id, lock=True)
        current = CaseStatus(case.status)
        if wanted not in TRANSITIONS[current]:
            raise TransitionError(current.value, wanted.value, tuple(TRANSITIONS[current]))
        if department is not None:
            dept = session.scalar(sa.select(Department).where(Department.code == department))
            if dept is None:
                raise ValidationError({"department": f"unknown department {department!r}"})
            case.department = dept
        if wanted == S.FORWARDED and case.department is None:
            raise ValidationError({"department": "no department to forward to; name one"})
        _set_status(case, current, wanted, by, comment, now, public=public)
        if wanted == S.FORWARDED:  # the department's deadline starts (crm_core.services.sla)
            session.flush()
            start_clock(session, case, now)
            # …and a department with its own system gets the case there (services.forwarding).
            enqueue_forward(session, case, now, ref=str(case.history[-1].id))
        session.flush()
        return _view(session, case)


def _set_status(
    case: Case,
    current: CaseStatus,
    wanted: CaseStatus,
    by: Actor,
    comment: str | None,
    now: datetime,
    *,
    public: bool = False,
) -> None:
    case.status = wanted.value
    case.updated_at = now
    # The history's figures the case reports read from the case itself (migration 0011).
    if wanted is S.FORWARDED:
        first = case.first_forwarded_at
        case.first_forwarded_at = now if first is None or now < first else first
        case.forwardings = (case.forwardings or 0) + 1
    elif wanted.value in FINISHED_STATUSES:
        last = case.finished_at
        case.finished_at = now if last is None or now > last else last
    case.history.append(
        CaseStatusChange(
            from_status=current.value,
            to_status=wanted.value,
            at=now,
            by_user_id=by.user_id,
            by_label=by.label[:80],
            comment=comment,
            public=public and comment is not None,
        )
    )
    # Resident notifications of this change, in the same transaction (crm_core.notifications).
    notifications.on_status_change(case, case.history[-1])


def mark_duplicate(
    db: Database, case_id: int, original_id: int, *, by: Actor, at: datetime | None = None
) -> CaseView:
    """Close `case_id` as a duplicate of `original_id` (which must be a different, open case)."""
    now = at or utcnow()
    with db.writing() as session:
        case = _load(session, case_id, lock=True)
        original = _load(session, original_id)
        if original.id == case.id:
            raise ValidationError({"duplicate_of": "a case cannot duplicate itself"})
        if original.duplicate_of_id is not None:
            raise ValidationError({"duplicate_of": f"{original.number} is itself a duplicate"})
        current = CaseStatus(case.status)
        if S.CLOSED not in TRANSITIONS[current]:
            raise TransitionError(current.value, S.CLOSED.value, tuple(TRANSITIONS[current]))
        case.duplicate_of_id = original.id
        # The resident may read why their report was closed: the note names only the other number.
        _set_status(case, current, S.CLOSED, by, f"duplikat zgłoszenia {original.number}", now, public=True)
        session.flush()
        return _view(session, case)


def link_interaction(db: Database, case_id: int, interaction_id: int) -> CaseView:
    with db.writing() as session:
        case = _load(session, case_id)
        if session.get(Interaction, interaction_id) is None:
            raise ValidationError({"interaction_id": f"no interaction {interaction_id}"})
        exists = session.scalar(
            sa.select(sa.func.count()).where(
                case_interactions.c.case_id == case_id,
                case_interactions.c.interaction_id == interaction_id,
            )
        )
        if not exists:
            session.execute(
                sa.insert(case_interactions).values(case_id=case_id, interaction_id=interaction_id)
            )
        return _view(session, case)


EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def suggest_duplicates(
    db: Database, category: str, lat: float, lon: float, radius_m: float = 150.0, limit: int = 5
) -> list[DuplicateCandidate]:
    """Open cases of the same (sub)category within `radius_m` of a point, nearest first: the
    consultant offers to attach the caller to an existing report instead of filing a new one."""
    if not 1 <= radius_m <= 5000:
        raise ValidationError({"radius_m": "expected 1 to 5000 metres"})
    # A lat/lon box prefilters through ix_cases_category_status_lat; haversine decides.
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    with db.reading() as session:
        cat = find_category(session, category)
        column = Case.subcategory_id if cat.parent_id is not None else Case.category_id
        rows = session.scalars(
            sa.select(Case)
            .options(*_VIEW_LOADS)
            .where(
                column == cat.id,
                Case.status.in_([s.value for s in OPEN_STATUSES]),
                Case.duplicate_of_id.is_(None),
                Case.lat.between(lat - dlat, lat + dlat),
                Case.lon.between(lon - dlon, lon + dlon),
            )
        ).all()
        found = []
        for case in rows:
            assert case.lat is not None and case.lon is not None
            d = distance_m(lat, lon, case.lat, case.lon)
            if d <= radius_m:
                found.append(DuplicateCandidate(_view(session, case), round(d, 1)))
        found.sort(key=lambda c: c.distance_m)
        return found[:limit]


def list_cases(
    db: Database,
    *,
    status: str | None = None,
    department: str | None = None,
    resident_id: int | None = None,
    limit: int = 50,
) -> list[CaseView]:
    stmt = sa.select(Case).options(*_VIEW_LOADS).order_by(Case.created_at.desc()).limit(min(limit, 500))
    if status is not None:
        stmt = stmt.where(Case.status == status)
    if resident_id is not None:
        stmt = stmt.where(Case.resident_id == resident_id)
    if department is not None:
        stmt = stmt.join(Department, Department.id == Case.department_id).where(Department.code == department)
    with db.reading() as session:
        return [_view(session, c) for c in session.scalars(stmt).all()]
