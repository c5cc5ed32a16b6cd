"""Residents and the screen-pop's caller history.

`caller_history` is on the critical path of every call offered to a consultant, so it is one
statement, one round trip, returning plain frozen values: the resident (found by the unique
E.164 number) LEFT JOINed to their open cases (ix_cases_resident_status), UNION ALL their
latest interactions joined through the same number (ix_interactions_resident_started). No ORM
entities are built. On PostgreSQL it runs in autocommit (no BEGIN/ROLLBACK round trips): a
screen-pop does not need more than the one statement's snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import (
    OPEN_STATUSES,
    Case,
    Category,
    Interaction,
    Resident,
    ResidentPhone,
)
from crm_core.phone import is_anonymous, normalize_phone

MAX_NAME = 200
LANGUAGES = ("pl", "en", "uk", "de", "ru")


@dataclass(frozen=True)
class ResidentView:
    id: int
    name: str | None
    preferred_language: str
    consent_contact: bool
    consent_recording: bool
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class InteractionSummary:
    id: int
    channel: str
    started_at: datetime
    ended_at: datetime | None
    queue: str | None
    agent_username: str | None
    disposition_code: str | None
    subject: str | None
    notes: str | None


@dataclass(frozen=True)
class OpenCaseSummary:
    id: int
    number: str
    status: str
    category: str
    address: str | None
    created_at: datetime


@dataclass(frozen=True)
class CallerHistory:
    """What the consultant sees when a call rings: who it is, what they said before."""

    phone: str
    resident: ResidentView | None
    interactions: tuple[InteractionSummary, ...]
    open_cases: tuple[OpenCaseSummary, ...]

    @property
    def known(self) -> bool:
        return self.resident is not None


# The open statuses are constants of the code, rendered into the SQL: a bound IN list would be
# re-expanded by SQLAlchemy on every call (measurably, on this hot path).
_OPEN_LITERALS: list[sa.ColumnElement[str]] = [
    sa.literal_column(f"'{s.value}'", sa.String) for s in OPEN_STATUSES
]

# The screen-pop is one statement: a UNION ALL of the resident with their open cases (part 0)
# and their latest interactions (part 1). On localhost a round trip costs more than running
# either half, so one statement instead of two is the largest saving there is; the halves do
# not depend on each other, so nothing is lost by sending them together. Each branch keeps its
# own index (ix_cases_resident_status, ix_interactions_resident_started).
#
# The two parts share columns rather than padding each other with NULLs: every column costs
# per row (driver description, SQLAlchemy's row and type processing), and this runs on every
# ringing call. The layout, by position:
#
#   part  0: resident + open case            1: interaction
#   0     0                                  1
#   1     resident id                        interaction id
#   2     name                               channel
#   3     preferred_language                 queue
#   4     consent_contact                    NULL
#   5     consent_recording                  NULL
#   6     case id (NULL: no open case)       NULL
#   7     case number                        agent_username
#   8     case status                        disposition_code
#   9     category name                      subject
#   10    case address                       notes
#   11    case created_at                    started_at       (the ORDER BY key, "ts")
#   12    NULL                               ended_at
#
# Result types come from part 0's columns: all strings and ints except 11 and 12, which are
# UtcDateTime in both parts (12 is a NULL typed as such, so part 1's ended_at is normalised).
_HEAD, _LATEST = 0, 1

_latest = (
    sa.select(
        Interaction.id,
        Interaction.channel,
        Interaction.queue,
        Interaction.agent_username,
        Interaction.disposition_code,
        Interaction.subject,
        Interaction.notes,
        Interaction.started_at,
        Interaction.ended_at,
    )
    .join(ResidentPhone, ResidentPhone.resident_id == Interaction.resident_id)
    .where(ResidentPhone.number == sa.bindparam("number"))
    .order_by(Interaction.started_at.desc())
    .limit(sa.bindparam("limit"))
    .subquery("latest")
)

_CALLER_HISTORY: sa.CompoundSelect[*tuple[Any, ...]] = sa.union_all(
    sa.select(
        sa.literal_column(str(_HEAD), sa.Integer).label("part"),
        Resident.id,
        Resident.name,
        Resident.preferred_language,
        Resident.consent_contact,
        Resident.consent_recording,
        Case.id.label("case_id"),
        Case.number,
        Case.status,
        Category.name.label("category"),
        Case.address,
        Case.created_at.label("ts"),
        sa.type_coerce(sa.null(), Interaction.ended_at.type).label("ended_at"),
    )
    .select_from(ResidentPhone)
    .join(Resident, Resident.id == ResidentPhone.resident_id)
    .outerjoin(
        Case,
        sa.and_(Case.resident_id == Resident.id, Case.status.in_(_OPEN_LITERALS)),
    )
    .outerjoin(Category, Category.id == Case.category_id)
    .where(ResidentPhone.number == sa.bindparam("number")),
    sa.select(
        sa.literal_column(str(_LATEST), sa.Integer),
        _latest.c.id,
        _latest.c.channel,
        _latest.c.queue,
        sa.null(),
        sa.null(),
        sa.null(),
        _latest.c.agent_username,
        _latest.c.disposition_code,
        _latest.c.subject,
        _latest.c.notes,
        _latest.c.started_at,
        _latest.c.ended_at,
    ),
).order_by(sa.literal_column("part"), sa.literal_column("ts").desc())


def caller_history(db: Database, phone: str, limit: int = 10) -> CallerHistory:
    """Resident, last `limit` interactions and open cases for the caller at `phone`.

    Anonymous or unparseable caller ids give an empty history rather than an error: the
    call is ringing and the consultant still needs the screen-pop."""
    if is_anonymous(phone):
        return CallerHistory(phone="", resident=None, interactions=(), open_cases=())
    try:
        number = normalize_phone(phone)
    except ValidationError:
        return CallerHistory(phone=phone, resident=None, interactions=(), open_cases=())
    rows = db.read_rows(_CALLER_HISTORY, {"number": number, "limit": limit})
    # Part 0 sorts first and has a row whenever the number belongs to a resident (the cases
    # are LEFT JOINed); part 1 cannot have rows without it (same join through the number).
    if not rows:
        return CallerHistory(phone=number, resident=None, interactions=(), open_cases=())
    first = rows[0]
    resident = ResidentView(first[1], first[2], first[3], first[4], first[5], (number,))
    cases = tuple(
        OpenCaseSummary(r[6], r[7], r[8], r[9], r[10], r[11])
        for r in rows
        if r[0] == _HEAD and r[6] is not None
    )
    interactions = tuple(
        InteractionSummary(r[1], r[2], r[11], r[12], r[3], r[7], r[8], r[9], r[10])
        for r in rows
        if r[0] == _LATEST
    )
    return CallerHistory(number, resident, interactions, cases)


def _view(resident: Resident) -> ResidentView:
    return ResidentView(
        id=resident.id,
        name=resident.name,
        preferred_language=resident.preferred_language,
        consent_contact=resident.consent_contact,
        consent_recording=resident.consent_recording,
        phones=tuple(p.number for p in resident.phones),
    )


def _check_fields(name: str | None, language: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if name is not None and len(name) > MAX_NAME:
        errors["name"] = f"at most {MAX_NAME} characters (got {len(name)})"
    if language not in LANGUAGES:
        errors["preferred_language"] = f"expected one of {', '.join(LANGUAGES)}, got {language!r}"
    return errors


def create_resident(
    db: Database,
    *,
    phones: list[str],
    name: str | None = None,
    preferred_language: str = "pl",
    consent_contact: bool = False,
    consent_recording: bool = False,
    email: str | None = None,
) -> ResidentView:
    """Create a resident with zero or more phone numbers (any common Polish notation)."""
    errors = _check_fields(name, preferred_language)
    numbers: list[str] = []
    for i, raw in enumerate(phones):
        try:
            numbers.append(normalize_phone(raw, field=f"phones[{i}]"))
        except ValidationError as exc:
            errors.update(exc.fields)
    if email is not None and ("@" not in email or len(email) > 254):
        errors["email"] = f"{email!r} is not an e-mail address"
    if errors:
        raise ValidationError(errors)
    with db.writing() as session:
        taken = session.scalars(
            sa.select(ResidentPhone.number).where(ResidentPhone.number.in_(numbers))
        ).all()
        if taken:
            raise ValidationError({"phones": f"already belongs to a resident: {', '.join(taken)}"})
        resident = Resident(
            name=name,
            email=email,
            preferred_language=preferred_language,
            consent_contact=consent_contact,
            consent_recording=consent_recording,
            phones=[ResidentPhone(number=n) for n in dict.fromkeys(numbers)],
        )
        session.add(resident)
        session.flush()
        return _view(resident)


def get_resident(db: Database, resident_id: int) -> ResidentView:
    with db.reading() as session:
        resident = session.get(Resident, resident_id)
        if resident is None:
            raise NotFound("resident", resident_id)
        return _view(resident)


def find_resident(db: Database, phone: str) -> ResidentView | None:
    number = normalize_phone(phone)
    with db.reading() as session:
        resident = session.scalar(
            sa.select(Resident)
            .join(ResidentPhone, ResidentPhone.resident_id == Resident.id)
            .where(ResidentPhone.number == number)
        )
        return None if resident is None else _view(resident)


def update_resident(
    db: Database,
    resident_id: int,
    *,
    name: str | None = None,
    preferred_language: str | None = None,
    consent_contact: bool | None = None,
    consent_recording: bool | None = None,
) -> ResidentView:
    with db.writing() as session:
        resident = session.get(Resident, resident_id)
        if resident is None:
            raise NotFound("resident", resident_id)
        errors = _check_fields(name, preferred_language or resident.preferred_language)
        if errors:
            raise ValidationError(errors)
        if name is not None:
            resident.name = name
        if preferred_language is not None:
            resident.preferred_language = preferred_language
        if consent_contact is not None:
            resident.consent_contact = consent_contact
        if consent_recording is not None:
            resident.consent_recording = consent_recording
        session.flush()
        return _view(resident)


def add_phone(db: Database, resident_id: int, phone: str, label: str | None = None) -> ResidentView:
    number = normalize_phone(phone)
    with db.writing() as session:
        resident = session.get(Resident, resident_id)
        if resident is None:
            raise NotFound("resident", resident_id)
        owner = session.scalar(sa.select(ResidentPhone.resident_id).where(ResidentPhone.number == number))
        if owner is not None and owner != resident_id:
            raise ValidationError({"phone": f"{number} already belongs to another resident"})
        if owner is None:
            resident.phones.append(ResidentPhone(number=number, label=label))
        session.flush()
        return _view(resident)
