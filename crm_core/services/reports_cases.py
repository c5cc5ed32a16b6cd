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
from crm_core.models import Case, CaseStatusChange, CaseWork, Category, Department, Interaction

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
    """One row per case of the period: the CaseRow fields, in CaseRow's order."""
    h = CaseStatusChange
    history = (
        sa.select(
            h.case_id,
            sa.func.min(sa.case((h.to_status == "forwarded", h.at))).label("forwarded_at"),
            sa.func.max(sa.case((h.to_status.in_(FINISHED), h.at))).label("finished_at"),
            sa.func.sum(sa.case((h.to_status == "forwarded", 1), else_=0)).label("forwardings"),
        )
        .join(Case, Case.id == h.case_id)
        .where(Case.created_at >= since, Case.created_at < until)
        .group_by(h.case_id)
        .subquery()
    )
    category = aliased(Category)
    parent = aliased(Category)
    sub = aliased(Category)
    query = (
        sa.select(
            sa.func.coalesce(parent.name, category.name), sub.name, Case.district,
            Case.source_channel, Department.code, Case.status, Case.created_at,
            history.c.forwarded_at, history.c.finished_at,
            sa.func.coalesce(history.c.forwardings, 0), sa.func.coalesce(CaseWork.returns, 0),
            CaseWork.on_time, Case.duplicate_of_id.is_not(None),
        )
        .join(category, category.id == Case.category_id)
        .outerjoin(parent, parent.id == category.parent_id)
        .outerjoin(sub, sub.id == Case.subcategory_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(CaseWork, CaseWork.case_id == Case.id)
        .outerjoin(history, history.c.case_id == Case.id)
        .where(Case.created_at >= since, Case.created_at < until)
    )
    return query


def case_rows(db: Database, since: datetime, until: datetime) -> list[CaseRow]:
    with db.reading() as session:
        rows: list[tuple[Any, ...]] = [tuple(r) for r in session.execute(_case_select(since, until))]
    return [CaseRow(*row) for row in rows]


def _aggregated(db: Database, since: datetime, until: datetime, now: datetime
                ) -> tuple[CaseFigures, dict[str, tuple[CaseFigures, ...]], dict[str, int]]:
    """PostgreSQL: the same figures as `fold_cases`, computed by the database in one pass
    (GROUPING SETS over the five dimensions and the total; percentile_disc is the nearest
    rank `quantile` takes). A year of a city is 365k cases: folding them in Python took
    seconds."""
    base = _case_select(since, until).subquery("b")
    cols = list(base.c)
    category, subcategory, district, channel, department, status, created = cols[:7]
    forwarded, finished, forwardings, returns, on_time, duplicate = cols[7:13]
    is_open = status.in_(sorted(OPEN))
    forward_h = sa.func.greatest(0.0, sa.extract("epoch", forwarded - created) / 3600)
    resolve_h = sa.case((sa.not_(is_open), sa.func.greatest(
        0.0, sa.extract("epoch", finished - created) / 3600)))
    keys = (category, subcategory, district, channel, department)

    def pct(q: float, column: Any) -> Any:
        return sa.func.percentile_disc(q).within_group(column)

    query = (
        sa.select(
            *(sa.func.grouping(k) for k in keys), *keys,
            sa.func.count(), sa.func.count().filter(is_open),
            pct(0.5, forward_h), pct(0.9, forward_h), pct(0.5, resolve_h), pct(0.9, resolve_h),
            sa.func.count(on_time), sa.func.count().filter(on_time.is_(True)),
            sa.func.count().filter(returns > 0),
            sa.func.count().filter(forwardings > returns + 1),
            sa.func.count().filter(duplicate),
        )
        .group_by(sa.func.grouping_sets(*keys, sa.text("()")))
    )
    age_days = sa.extract("epoch", sa.literal(now) - created) / 86400
    bands = sa.case(*((age_days < limit, label) for limit, label in AGE_BANDS[:-1]),
                    else_=AGE_BANDS[-1][1])
    backlog_query = sa.select(bands, sa.func.count()).where(is_open).group_by(bands)
    with db.reading() as session:
        rows = session.execute(query).all()
        backlog = {label: 0 for _, label in AGE_BANDS}
        backlog.update({str(label): int(n) for label, n in session.execute(backlog_query)})

    def hours(value: Any) -> float | None:
        return None if value is None else round(float(value), 1)

    total = CaseFigures("", 0, 0, None, None, None, None, None, 0, 0, 0)
    by: dict[str, list[CaseFigures]] = {d: [] for d in DIMENSIONS}
    for row in rows:
        grouped, values = row[:5], row[5:10]
        (cases, open_, f50, f90, r50, r90, with_deadline, in_time, returned, reassigned,
         duplicates) = row[10:]
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
