"""Case reports: cases of a period by category, subcategory, district, channel and department.

Rules: `fold_cases` is pure (rows in, figures out); `case_rows` is one query. On PostgreSQL
the same figures are aggregated by the database (`_aggregated`: the quantiles with GROUPING
SETS, the counts per combination of keys, side by side on one snapshot); the tests hold both
engines to the same expected figures, and PostgreSQL's to the fold's on generated cases. A case
belongs to the period it was reported in (created_at, Warsaw's days). Definitions (the page
states them):
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


# The period's cases narrowed to what the figures need, each dimension as a small key: the
# category, subcategory and department as the number of their name / code in `_keys` (names
# are not unique — two subcategories may both be "Inne" — and the fold groups by the name),
# the district and channel as text compared byte-wise (COLLATE "C": the grouping needs no
# linguistic order, and the database's collation made every text comparison a strcoll call).
# The arrays are one row's columns (p): a cast of a parameter inside an expression is redone
# for every row once a statement runs on a generic (prepared) plan.
_NARROW = """
    WITH p AS MATERIALIZED (
        SELECT CAST(:main AS int[]) AS main, CAST(:sub AS int[]) AS sub,
               CAST(:dept AS int[]) AS dept, CAST(:none AS int) AS none
    )
    SELECT p.main[c.category_id] AS category,
           COALESCE(p.sub[c.subcategory_id], p.none) AS subcategory,
           COALESCE(NULLIF(c.district, ''), '-') COLLATE "C" AS district,
           COALESCE(NULLIF(c.source_channel, ''), '-') COLLATE "C" AS channel,
           COALESCE(p.dept[c.department_id], p.none) AS department,
           {columns}
    FROM p, cases c {join}
    WHERE c.created_at >= :since AND c.created_at < :until
"""

# A time as whole microseconds (bigint, exact): a percentile of them sorts integers, and the
# chosen one becomes the fold's hours exactly in Python (µs / 10**6 is total_seconds()). A
# case without the moment has no time (greatest() alone would make it 0: GREATEST skips NULLs,
# and the statement before this one counted every case never forwarded as forwarded at once).
_MICROSECONDS = ("CASE WHEN {0} IS NOT NULL THEN "
                 "greatest(0, (extract(epoch FROM {0} - c.created_at) * 1000000)::bigint) END")

# The nearest ranks p50 and p90 of both times (percentile_disc, the rank `quantile` takes;
# both ranks from one sort) per dimension and in total.
_QUANTILES = """
SELECT GROUPING(category, subcategory, district, channel, department), category, subcategory,
       district, channel, department,
       percentile_disc(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY forward_us),
       percentile_disc(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY resolve_us)
FROM ({narrow}) n
GROUP BY GROUPING SETS (category, subcategory, district, channel, department, ())
""".format(narrow=_NARROW.format(
    columns=_MICROSECONDS.format("c.first_forwarded_at") + " AS forward_us, "
    "CASE WHEN c.status NOT IN ('new', 'forwarded', 'in_progress') THEN "
    + _MICROSECONDS.format("c.finished_at") + " END AS resolve_us", join=""))

# The counts per combination of the five keys (a hash aggregation, no sort: a year is about a
# thousand combinations, added up per dimension in Python), with the open cases younger than
# each age band's limit (an age under n days: reported after now − n × 24 h, see _age_limits).
_COUNTS = """
SELECT category, subcategory, district, channel, department, count(*),
       count(*) FILTER (WHERE is_open), count(on_time), count(*) FILTER (WHERE on_time),
       count(*) FILTER (WHERE returned), count(*) FILTER (WHERE reassigned),
       count(*) FILTER (WHERE duplicate), {younger}
FROM ({narrow}) n
GROUP BY category, subcategory, district, channel, department
""".format(
    younger=", ".join(f"count(*) FILTER (WHERE is_open AND reported > :younger{i})"
                      for i in range(len(AGE_BANDS) - 1)),
    narrow=_NARROW.format(
        columns="c.status IN ('new', 'forwarded', 'in_progress') AS is_open, w.on_time, "
                "coalesce(w.returns, 0) > 0 AS returned, "
                "coalesce(c.forwardings, 0) > coalesce(w.returns, 0) + 1 AS reassigned, "
                "c.duplicate_of_id IS NOT NULL AS duplicate, c.created_at AS reported",
        join="LEFT JOIN case_work w ON w.case_id = c.id"))


def _keys(db: Database) -> tuple[list[str], dict[str, Any]]:
    """The key strings the fold would write for categories, subcategories and departments,
    numbered, and the arrays that give each category / department id its key's number."""
    keys: list[str] = []
    number: dict[str, int] = {}

    def key(value: str | None) -> int:
        text = str(value or NONE)
        if text not in number:
            number[text] = len(keys)
            keys.append(text)
        return number[text]

    with db.reading() as session:
        categories = session.execute(sa.select(Category.id, Category.name, Category.parent_id)).all()
        departments = session.execute(sa.select(Department.id, Department.code)).all()
    names = {cid: name for cid, name, _ in categories}
    main: list[int | None] = [None] * max((cid for cid, _, _ in categories), default=0)
    sub: list[int | None] = list(main)
    for cid, name, parent in categories:
        main[cid - 1] = key(names.get(parent) if parent is not None else name)
        sub[cid - 1] = key(name)
    dept: list[int | None] = [None] * max((did for did, _ in departments), default=0)
    for did, code in departments:
        dept[did - 1] = key(code)
    return keys, {"main": main, "sub": sub, "dept": dept, "none": key(None)}


def _age_limits(now: datetime) -> dict[str, datetime]:
    """now − n × 24 h for each band's limit n but the last (absolute time, as the fold's
    `now - created_at`: an age below n days ⟺ reported after this moment)."""
    utc_now = now.astimezone(UTC)
    return {f"younger{i}": utc_now - timedelta(days=limit)
            for i, (limit, _) in enumerate(AGE_BANDS[:-1])}


def _aggregated(db: Database, since: datetime, until: datetime, now: datetime
                ) -> tuple[CaseFigures, dict[str, tuple[CaseFigures, ...]], dict[str, int]]:
    """PostgreSQL: the same figures as `fold_cases`, computed by the database. A year of a
    city is 365k cases: folded in Python that took seconds; in one statement, the counts'
    FILTERs added up over all six grouping sets and the wide rows (names in the database's
    collation) sorted six times, it was 2.7–5 s (bench.reports_bench)."""
    keys, arrays = _keys(db)
    params = {"since": since, "until": until, **arrays, **_age_limits(now)}

    def begin(conn: sa.Connection) -> None:
        # No JIT (compiling these expressions took longer than running them), and room to
        # sort a year in memory.
        conn.execute(sa.text("SET LOCAL jit = off"))
        conn.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        conn.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))

    def run(sql: str, snapshot: str) -> list[Any]:
        with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                conn.begin():
            conn.execute(sa.text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            begin(conn)
            return list(conn.execute(sa.text(sql), params))

    # The two quantile statements each sort the year twice over (per group and within it):
    # side by side on connections of their own they use both of a small server's cores. All
    # three read the snapshot the first one exported, so the figures are of one moment.
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
            conn.begin(), ThreadPoolExecutor(max_workers=2) as pool:
        snapshot = str(conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one())
        begin(conn)
        counts_run = pool.submit(run, _COUNTS, snapshot)
        quantiles = list(conn.execute(sa.text(_QUANTILES), params))
        counts = counts_run.result()

    def name(dimension: int, value: Any) -> str:
        return keys[value] if dimension in (0, 1, 4) else str(value)

    # Counts: each combination's into its five dimensions' groups and the total.
    tallies: dict[tuple[int, str], list[int]] = {}
    backlog_younger = [0] * len(AGE_BANDS)  # open cases younger than each limit, and all open
    for row in counts:
        values = row[5:12]
        for d in (*range(len(DIMENSIONS)), -1):
            group = (d, "" if d < 0 else name(d, row[d]))
            tally = tallies.setdefault(group, [0] * len(values))
            for i, v in enumerate(values):
                tally[i] += v
        for i, v in enumerate(row[12:]):
            backlog_younger[i] += v
        backlog_younger[-1] += row[6]
    backlog = {label: backlog_younger[i] - (backlog_younger[i - 1] if i else 0)
               for i, (_, label) in enumerate(AGE_BANDS)}

    # Quantiles: microseconds to the fold's hours, rounded as it rounds them.
    found: dict[tuple[int, str], list[float | None]] = {}
    for row in quantiles:
        grouped = [d for d in range(len(DIMENSIONS)) if not row[0] & (1 << (4 - d))]
        group = (grouped[0], name(grouped[0], row[1 + grouped[0]])) if grouped else (-1, "")
        found[group] = [None if us is None else round(us / 10**6 / 3600, 1)
                        for us in (*(row[6] or (None, None)), *(row[7] or (None, None)))]

    def figures(group: tuple[int, str]) -> CaseFigures:
        cases, open_, with_deadline, in_time, returned, reassigned, duplicates = tallies[group]
        f50, f90, r50, r90 = found.get(group, [None] * 4)
        return CaseFigures(
            group[1], cases, open_, f50, f90, r50, r90,
            round(100 * in_time / with_deadline, 1) if with_deadline else None,
            returned, reassigned, duplicates)

    if (-1, "") not in tallies:
        empty = CaseFigures("", 0, 0, None, None, None, None, None, 0, 0, 0)
        return empty, {d: () for d in DIMENSIONS}, backlog
    by = {dimension: tuple(sorted((figures(g) for g in tallies if g[0] == d),
                                  key=lambda f: (-f.cases, f.key)))
          for d, dimension in enumerate(DIMENSIONS)}
    return figures((-1, "")), by, backlog


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
