"""The map of reports' data: where cases were reported, filtered by period, category and status.

Rules:
- The period is whole days in Warsaw time, `since` and `until` both included, on the case's
  `created_at` (the ix_cases_created_at index bounds the scan; a month of a city's reports is
  read in one range).
- A category is a main category (its cases and all their subcategories) or one subcategory.
- Points are cases with coordinates; the per-district counts cover every case of the filter,
  with or without a point, so the table beside the map still tells the whole story.
- At most `limit` points come back (newest first) and the answer says when some were left off.
- `points_json` is the API's answer as text: on PostgreSQL the database writes the points'
  JSON array itself (json_agg) in the same statement as the district counts, so a month's
  ~30k points are neither rows in Python nor encoded by it; elsewhere it is
  json.dumps(as_json(case_points)). Both parse to the same answer (tested).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import Case, CaseStatus, Category
from crm_core.warsaw import TIMEZONE

MAX_DAYS = 366
STATUSES = tuple(s.value for s in CaseStatus)


@dataclass(frozen=True)
class MapFilter:
    since: date
    until: date
    category: str | None = None
    status: str | None = None

    def window(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.since, time(0), TIMEZONE).astimezone(UTC)
        end = datetime.combine(self.until + timedelta(days=1), time(0), TIMEZONE).astimezone(UTC)
        return start, end


class CasePoint(NamedTuple):
    """One case on the map (a tuple: a month is ~27k of them, built and written in one go)."""

    lat: float
    lon: float
    case_id: int
    number: str
    status: str
    category: str  # the main category's code
    district: str | None


@dataclass(frozen=True)
class CasePoints:
    points: list[CasePoint]
    by_district: dict[str, int] = field(default_factory=dict)  # None → "" (no district given)
    total: int = 0
    truncated: bool = False


def _check(flt: MapFilter) -> None:
    problems: dict[str, str] = {}
    if flt.until < flt.since:
        problems["until"] = "the period ends before it starts"
    elif (flt.until - flt.since).days >= MAX_DAYS:
        problems["until"] = f"a period of at most {MAX_DAYS} days"
    if flt.status is not None and flt.status not in STATUSES:
        problems["status"] = f"one of {', '.join(STATUSES)}"
    if problems:
        raise ValidationError(problems)


def _categories(session: Session) -> dict[int, tuple[str, int | None]]:
    """id → (code, parent id): a few dozen rows, read instead of joining every case to them."""
    return {cid: (code, parent) for cid, code, parent in session.execute(
        sa.select(Category.id, Category.code, Category.parent_id))}


def _where(flt: MapFilter, categories: dict[int, tuple[str, int | None]]) -> list[sa.ColumnElement[bool]]:
    _check(flt)
    start, end = flt.window()
    where = [Case.created_at >= start, Case.created_at < end]
    if flt.status is not None:
        where.append(Case.status == flt.status)
    if flt.category is not None:
        chosen = next((cid for cid, (code, _) in categories.items() if code == flt.category), None)
        if chosen is None:
            raise ValidationError({"category": f"unknown category {flt.category!r}"})
        parent = categories[chosen][1]
        where.append(Case.category_id == chosen if parent is None else Case.subcategory_id == chosen)
    return where


def _counts(session: Session, where: list[sa.ColumnElement[bool]]) -> dict[str, int]:
    district = sa.func.coalesce(Case.district, "")
    return dict(session.execute(
        sa.select(district, sa.func.count()).where(*where).group_by(district)).all())


def district_counts(db: Database, flt: MapFilter) -> dict[str, int]:
    """Cases of the filter per district ("" for cases without one): the map's table."""
    with db.reading() as session:
        return _counts(session, _where(flt, _categories(session)))


def case_points(db: Database, flt: MapFilter, *, limit: int = 50_000) -> CasePoints:
    with db.reading() as session:
        categories = _categories(session)
        where = _where(flt, categories)
        counts = _counts(session, where)
        # Core rows on the session's connection (no ORM loading: most of the time of a month
        # went there) with the category's code joined from its small table.
        rows = session.connection().execute(
            sa.select(Case.lat, Case.lon, Case.id, Case.number, Case.status, Category.code, Case.district)
            .join(Category, Category.id == Case.category_id)
            .where(*where, Case.lat.is_not(None), Case.lon.is_not(None))
            .order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1)
        ).all()
    points = list(map(CasePoint._make, rows[:limit]))
    return CasePoints(points, counts, sum(counts.values()), len(rows) > limit)


def as_json(flt: MapFilter, found: CasePoints) -> dict[str, Any]:
    """The map API's answer: compact rows (a month of a city is ~30k points)."""
    return {
        "ok": True,
        "since": flt.since.isoformat(), "until": flt.until.isoformat(),
        "columns": ["lat", "lon", "id", "number", "status", "category", "district"],
        "points": found.points,  # tuples in the columns' order: JSON arrays
        "districts": found.by_district, "total": found.total, "truncated": found.truncated,
    }


def points_json(db: Database, flt: MapFilter, *, limit: int = 50_000) -> str:
    """The map API's answer (as_json's), as JSON text."""
    if db.dialect != "postgresql":
        return json.dumps(as_json(flt, case_points(db, flt, limit=limit)), ensure_ascii=False)
    with db.reading() as session:
        where = _where(flt, _categories(session))
        # The district counts and the newest `limit` + 1 points in one statement, the points
        # already a JSON array in the API's column order (float8 prints its shortest exact
        # form, as Python's json does).
        chosen = (sa.select(Case.created_at, Case.id, Case.lat, Case.lon, Case.number,
                            Case.status, Case.category_id, Case.district)
                  .where(*where).cte("chosen"))
        newest = (sa.select(chosen).where(chosen.c.lat.is_not(None), chosen.c.lon.is_not(None))
                  .order_by(chosen.c.created_at.desc(), chosen.c.id.desc()).limit(limit + 1)
                  .cte("newest"))
        district = sa.func.coalesce(chosen.c.district, "")
        per_district = (sa.select(district.label("d"), sa.func.count().label("n"))
                        .group_by(district).subquery())
        shown = (sa.select(newest).order_by(newest.c.created_at.desc(), newest.c.id.desc())
                 .limit(limit).subquery())
        row = sa.func.json_build_array(shown.c.lat, shown.c.lon, shown.c.id, shown.c.number,
                                       shown.c.status, Category.code, shown.c.district)
        query = sa.select(
            sa.select(sa.cast(sa.func.json_object_agg(per_district.c.d, per_district.c.n),
                              sa.Text)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(newest).scalar_subquery(),
            sa.select(sa.cast(sa.func.json_agg(aggregate_order_by(
                row, shown.c.created_at.desc(), shown.c.id.desc())), sa.Text))
            .select_from(shown.join(Category, Category.id == shown.c.category_id))
            .scalar_subquery(),
        )
        counts_json, found, points = session.connection().execute(query).one()
    counts: dict[str, int] = json.loads(counts_json) if counts_json else {}
    head = as_json(flt, CasePoints([], counts, sum(counts.values()), found > limit))
    # The small part encoded here, the points spliced in as PostgreSQL wrote them.
    return json.dumps(head, ensure_ascii=False).replace(
        '"points": []', f'"points": {points or "[]"}', 1)
