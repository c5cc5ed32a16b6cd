"""Case reports: cases of a period by category, subcategory, district, channel and department.

Rules: `fold_cases` is pure (rows in, figures out); `case_rows` is one query. On PostgreSQL
the same figures are aggregated by the database (`_aggregated`: one pass, GROUPING SETS); the
tests hold both engines to the same expected figures. A case belongs to
the period it was reported in (created_at, Warsaw's days). Definitions (the page states them):
- time to forward: reported → first forwarded to a department; time to resolve: reported →
  the last time it was resolved, rejected or closed (p50 / p90, nearest rank, in hours);
- deadline compliance: of the cases a department finished, those finished by the deadline
  (case_work.on_time, set by crm_core.services.sla: duplicates count for or against no one);
- returned: handed back to the center at least once; reassigned: forwarded more times than it
  was returned plus one (moved from one department to another);
- backlog: cases of the period still open now, by age (now − reported);
- repeat callers: residents who called more than once in the period, and their calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from crm_core.db import Database
from crm_core.models import Case, CaseWork, Category, Department, Interaction

DIMENSIONS = ("category", "subcategory", "district", "channel", "department")
OPEN = frozenset({"new", "forwarded", "in_progress"})
FINISHED = ("resolved", "rejected", "closed")
AGE_BANDS = ((1, "<1d"), (3, "1-3d"), (7, "3-7d"), (30, "7-30d"), (math.inf, ">30d"))
NONE = "-"


@dataclass(frozen=True)
class CaseRow:
    category: str
    subcategory: str | None
    district: str | None
    channel: str
    department: str | None
    status: str
    created_at: datetime
    forwarded_at: datetime | None  # the first forwarding
    finished_at: datetime | None  # the last resolution / rejection / closing
    forwardings: int
    returns: int
    on_time: bool | None
    duplicate: bool

    def key(self, dimension: str) -> str:
        return str(getattr(self, dimension) or NONE)


def quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class CaseTally:
    cases: int = 0
    open: int = 0
    forward_h: list[float] = field(default_factory=list)
    resolve_h: list[float] = field(default_factory=list)
    done_with_deadline: int = 0
    on_time: int = 0
    returned: int = 0
    reassigned: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class CaseFigures:
    key: str
    cases: int
    open: int
    forward_p50_h: float | None
    forward_p90_h: float | None
    resolve_p50_h: float | None
    resolve_p90_h: float | None
    on_time_pct: float | None
    returned: int
    reassigned: int
    duplicates: int


def _figures(key: str, t: CaseTally) -> CaseFigures:
    def hours(values: list[float], q: float) -> float | None:
        v = quantile(values, q)
        return None if v is None else round(v, 1)

    return CaseFigures(
        key=key, cases=t.cases, open=t.open,
        forward_p50_h=hours(t.forward_h, 0.5), forward_p90_h=hours(t.forward_h, 0.9),
        resolve_p50_h=hours(t.resolve_h, 0.5), resolve_p90_h=hours(t.resolve_h, 0.9),
        on_time_pct=(round(100 * t.on_time / t.done_with_deadline, 1)
                     if t.done_with_deadline else None),
        returned=t.returned, reassigned=t.reassigned, duplicates=t.duplicates)


@dataclass(frozen=True)
class RepeatCallers:
    residents: int  # who called more than once
    calls: int  # their calls
    all_calls: int  # every identified resident's calls in the period


@dataclass(frozen=True)
class CaseReport:
    total: CaseFigures
    by: dict[str, tuple[CaseFigures, ...]]  # dimension → figures, most cases first
    backlog: dict[str, int]  # age band → open cases
    repeat_callers: RepeatCallers


def fold_cases(rows: Iterable[CaseRow], now: datetime,
               repeat: RepeatCallers = RepeatCallers(0, 0, 0)) -> CaseReport:
    total = CaseTally()
    by: dict[str, dict[str, CaseTally]] = {d: {} for d in DIMENSIONS}
    backlog = {label: 0 for _, label in AGE_BANDS}
    for row in rows:
        tallies = [total, *(by[d].setdefault(row.key(d), CaseTally()) for d in DIMENSIONS)]
        is_open = row.status in OPEN
        forward_h = ((row.forwarded_at - row.created_at).total_seconds() / 3600
                     if row.forwarded_at is not None else None)
        resolve_h = ((row.finished_at - row.created_at).total_seconds() / 3600
                     if row.finished_at is not None and not is_open else None)
        for t in tallies:
            t.cases += 1
            t.open += is_open
            if forward_h is not None:
                t.forward_h.append(max(0.0, forward_h))
            if resolve_h is not None:
                t.resolve_h.append(max(0.0, resolve_h))
            if row.on_time is not None:
                t.done_with_deadline += 1
                t.on_time += row.on_time
            t.returned += row.returns > 0
            t.reassigned += row.forwardings > row.returns + 1
            t.duplicates += row.duplicate
        if is_open:
            age_days = (now - row.created_at).total_seconds() / 86400
            backlog[next(label for limit, label in AGE_BANDS if age_days < limit)] += 1
    return CaseReport(
        total=_figures("", total),
        by={d: tuple(sorted((_figures(k, t) for k, t in tallies.items()),
                            key=lambda f: (-f.cases, f.key)))
            for d, tallies in by.items()},
        backlog=backlog, repeat_callers=repeat)


def _case_select(since: datetime, until: datetime) -> sa.Select[Any]:
    """One row per case of the period: the CaseRow fields, in CaseRow's order. The history's
    figures (first forwarded, last finished, forwardings) are the case's own columns,
    kept with each status change (migration 0011): the period's cases are read alone."""
    category = aliased(Category)
    parent = aliased(Category)
    sub = aliased(Category)
    query = (
        sa.select(
            sa.func.coalesce(parent.name, category.name), sub.name, Case.district,
            Case.source_channel, Department.code, Case.status, Case.created_at,
            Case.first_forwarded_at, Case.finished_at,
            sa.func.coalesce(Case.forwardings, 0), sa.func.coalesce(CaseWork.returns, 0),
            CaseWork.on_time, Case.duplicate_of_id.is_not(None),
        )
        .join(category, category.id == Case.category_id)
        .outerjoin(parent, parent.id == category.parent_id)
        .outerjoin(sub, sub.id == Case.subcategory_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(CaseWork, CaseWork.case_id == Case.id)
        .where(Case.created_at >= since, Case.created_at < until)
    )
    return query  # type: ignore[return-value]  # a typed row of more than ten columns


def case_rows(db: Database, since: datetime, until: datetime) -> list[CaseRow]:
    with db.reading() as session:
        rows: list[tuple[Any, ...]] = [tuple(r) for r in session.execute(_case_select(since, until))]
    return [CaseRow(*row) for row in rows]


# The period's cases narrowed to what the figures need (keys, open or not, hours to forward
# and to resolve as float8 — the fold's `total_seconds() / 3600` exactly — and the flags),
# materialized once, then added up per dimension and in total with GROUPING SETS;
# percentile_disc is the nearest rank `quantile` takes, both quantiles from one sort.
_AGGREGATED = """
WITH n AS MATERIALIZED (
    SELECT coalesce(p.name, c1.name) AS category, s.name AS subcategory, c.district,
           c.source_channel AS channel, d.code AS department,
           c.status IN ('new', 'forwarded', 'in_progress') AS is_open,
           greatest(0, extract(epoch FROM c.first_forwarded_at - c.created_at)::float8 / 3600)
               AS forward_h,
           CASE WHEN c.status NOT IN ('new', 'forwarded', 'in_progress')
                THEN greatest(0, extract(epoch FROM c.finished_at - c.created_at)::float8 / 3600)
           END AS resolve_h,
           w.on_time, coalesce(w.returns, 0) > 0 AS returned,
           coalesce(c.forwardings, 0) > coalesce(w.returns, 0) + 1 AS reassigned,
           c.duplicate_of_id IS NOT NULL AS duplicate
    FROM cases c
    JOIN categories c1 ON c1.id = c.category_id
    LEFT JOIN categories p ON p.id = c1.parent_id
    LEFT JOIN categories s ON s.id = c.subcategory_id
    LEFT JOIN departments d ON d.id = c.department_id
    LEFT JOIN case_work w ON w.case_id = c.id
    WHERE c.created_at >= :since AND c.created_at < :until
)
SELECT GROUPING(category), GROUPING(subcategory), GROUPING(district), GROUPING(channel),
       GROUPING(department), category, subcategory, district, channel, department,
       count(*), count(*) FILTER (WHERE is_open),
       percentile_disc(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY forward_h),
       percentile_disc(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY resolve_h),
       count(on_time), count(*) FILTER (WHERE on_time), count(*) FILTER (WHERE returned),
       count(*) FILTER (WHERE reassigned), count(*) FILTER (WHERE duplicate)
FROM n
GROUP BY GROUPING SETS (category, subcategory, district, channel, department, ())
"""

_BACKLOG = """
SELECT created_at FROM cases
WHERE created_at >= :since AND created_at < :until AND status IN ('new', 'forwarded', 'in_progress')
"""


def _aggregated(db: Database, since: datetime, until: datetime, now: datetime
                ) -> tuple[CaseFigures, dict[str, tuple[CaseFigures, ...]], dict[str, int]]:
    """PostgreSQL: the same figures as `fold_cases`, computed by the database (_AGGREGATED).
    A year of a city is 365k cases: folding them in Python took seconds."""
    params = {"since": since, "until": until}
    # A transaction of its own for SET LOCAL: no JIT (compiling this statement's expressions
    # took longer than running them: 11 s of a 28 s plan), and room to sort a year in memory.
    with db.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SET LOCAL jit = off"))
        conn.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        rows = conn.execute(sa.text(_AGGREGATED), params).all()
        open_since = [at for (at,) in conn.execute(sa.text(_BACKLOG), params)]
    backlog = {label: 0 for _, label in AGE_BANDS}
    for at in open_since:  # the open cases only: a few percent of a year
        age_days = (now - at).total_seconds() / 86400
        backlog[next(label for limit, label in AGE_BANDS if age_days < limit)] += 1

    def hours(value: Any) -> float | None:
        return None if value is None else round(float(value), 1)

    total = CaseFigures("", 0, 0, None, None, None, None, None, 0, 0, 0)
    by: dict[str, list[CaseFigures]] = {d: [] for d in DIMENSIONS}
    for row in rows:
        grouped, values = row[:5], row[5:10]
        (cases, open_, forward, resolve, with_deadline, in_time, returned, reassigned,
         duplicates) = row[10:]
        f50, f90 = forward or (None, None)
        r50, r90 = resolve or (None, None)
        dims = [d for d, g in zip(DIMENSIONS, grouped, strict=True) if not g]
        key = "" if not dims else str(values[DIMENSIONS.index(dims[0])] or NONE)
        figures = CaseFigures(
            key, int(cases), int(open_), hours(f50), hours(f90), hours(r50), hours(r90),
            round(100 * in_time / with_deadline, 1) if with_deadline else None,
            int(returned), int(reassigned), int(duplicates))
        if dims:
            by[dims[0]].append(figures)
        else:
            total = figures
    return total, {d: tuple(sorted(f, key=lambda x: (-x.cases, x.key))) for d, f in by.items()}, \
        backlog


def repeat_callers(db: Database, since: datetime, until: datetime) -> RepeatCallers:
    i = Interaction
    per_resident = (
        sa.select(i.resident_id, sa.func.count().label("n"))
        .where(i.channel == "phone", i.resident_id.is_not(None),
               i.started_at >= since, i.started_at < until)
        .group_by(i.resident_id).subquery())
    with db.reading() as session:
        residents, calls, everyone = session.execute(sa.select(
            sa.func.sum(sa.case((per_resident.c.n > 1, 1), else_=0)),
            sa.func.sum(sa.case((per_resident.c.n > 1, per_resident.c.n), else_=0)),
            sa.func.sum(per_resident.c.n))).one()
    return RepeatCallers(int(residents or 0), int(calls or 0), int(everyone or 0))


def case_report(db: Database, since: datetime, until: datetime, *, now: datetime) -> CaseReport:
    if db.dialect == "postgresql":
        total, by, backlog = _aggregated(db, since, until, now)
        return CaseReport(total, by, backlog, repeat_callers(db, since, until))
    return fold_cases(case_rows(db, since, until), now, repeat_callers(db, since, until))
