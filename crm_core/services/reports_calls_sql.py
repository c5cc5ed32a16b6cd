"""The contact-center report's calls read by PostgreSQL and fetched as columns.

Rules: the definitions are reports_calls' (its docstring states them) and every figure equals
what `reports_calls.fold_calls` / `handled_by_agent` compute from the same calls (tested on
the same data, tests/crm/test_reports_calls.py and test_call_facts.py). One statement per
report: the period's phone calls from call_facts (migration 0016: each call as the report
reads it, kept by the database at every write of a call) — the bucket of each of their moments
that counts (offered at joining the queue, answered at connecting, abandoned at hanging up in
the queue, a callback requested / made, IVR self-service at the start; the filter's days,
weekdays and hours decide), their durations in whole milliseconds, queue and language — come
back as rows of arrays, one element per call, read by numpy without a Python object per call;
numpy adds them up (reports_calls_columns), and reports_calls turns the sums into figures
column by column.

Why a per-call table and not a rollup: a rollup per queue and 15 minutes could not give an
exact p90 (the waits themselves would have to be kept) and at the issue's volume would hardly
be smaller than the calls (1000 calls a day over ~56 daytime quarters, 7 queues and 3 languages
is about one call per cell); call_facts is the calls' narrowing that every report did again
(~40 ms of November's statement, the IVR steps' probes for self-service ~17 of them). Why not
GROUPING SETS here, as before: a month by 15 minutes is ~14k groups, and the database's work
grew with them — a sort per group for its p90, five groupings' sums, the kinds' groups joined
side by side, ~14k rows of sums out and made into figures one by one — ~250 ms of the statement
and ~60 ms in Python, where the columns' way is ~30 ms after the calls are read (README,
Benchmarks). What it costs now: ~95 ms of statement for November's ~34k calls (their buckets,
the arrays), ~30k elements per array out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
import sqlalchemy as sa
from numpy.typing import NDArray
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format

from crm_core.db import Database
from crm_core.services import reports_calls_columns as cols
from crm_core.warsaw import TIMEZONE as WARSAW

# A moment's bucket without a time zone per moment: its whole seconds since the epoch (s, as
# call_facts keeps them) give its UTC hour, and the filter's hours (`_buckets`: the period's, on
# their Warsaw reading; Warsaw is whole hours from UTC, so one UTC hour is one local hour) give
# that hour's bucket number, or NULL when the filter leaves the hour out (or it is outside the
# period: the array ends there). By 15 minutes the quarter of the UTC hour is the same local
# quarter.
# (-1 for an hour left out, not NULL: an element of an array without NULLs is found by its
# offset, with NULLs by walking the array's null bitmap up to it.)
_HOUR_BUCKET = "NULLIF(p.buckets[({s} / 3600 - p.first_hour + 1)::int], -1)"
_BUCKET = {"day": _HOUR_BUCKET, "hour": _HOUR_BUCKET, "15min": _HOUR_BUCKET + " + {s} % 3600 / 900"}

# The period's phone calls, once each, as call_facts keeps them (migration 0016: the definitions
# of reports_calls' docstring, worked out when a call is written): the bucket of each of their
# moments that counts, NULL when the call has no such figure or the filter leaves it out.
_CALLS = """
    SELECT f.interaction_id AS id, f.queue AS q, f.language AS lang, f.wait, f.wait_ms,
           f.wait <= COALESCE(qs.sl_threshold_s, :default_sl) AS in_sl, f.ended, f.talk_ms,
           f.hold_ms, f.wrapup_ms, f.transferred, f.agent, f.agent_talk_ms, f.reached,
           {offered} AS bo, {answered} AS ba, {abandoned} AS bx, {requested} AS br,
           {made} AS bm, {served} AS bs
    FROM p, call_facts f LEFT JOIN queues qs ON qs.name = f.queue
    WHERE f.started_at >= :since AND f.started_at < :end
"""

# The node names of IVR self-service, as migration 0016's refresh_call_facts tells them.
SELF_SERVICE_PREFIXES = ("status_", "info_")

# The narrowed calls as columns: one row whose values are arrays, one element per call that has
# a figure in the period (in binary, each array is read as one numpy array: no Python object
# per call), with the queues' and languages' names the calls' positions refer to (1-based;
# queue 0: none), and each consultant's handled calls (connected in the filter, ended, not a
# callback): how many and their milliseconds of talk + wrap-up (the AHT of the agents' table)
# — repeated on every row, as a period's calls come in several rows (their parts).
# Bucket numbers are -1 where a call has no such figure (reports_calls_columns adds them up).
_COLUMNS = """
WITH p AS MATERIALIZED (
    -- the parameters as one row's columns: a cast of a parameter inside an expression is
    -- redone for every row once the statement runs on a generic (prepared) plan
    SELECT CAST(:buckets AS int[]) AS buckets, CAST(:first_hour AS bigint) AS first_hour
),
c AS MATERIALIZED (
    SELECT * FROM ({calls}) calls WHERE COALESCE(bo, ba, bx, br, bm, bs) IS NOT NULL
),
qn AS MATERIALIZED (
    SELECT COALESCE(array_agg(q), '{{}}') AS names FROM (SELECT DISTINCT q FROM c WHERE q IS NOT NULL) d
),
ln AS MATERIALIZED (
    SELECT COALESCE(array_agg(lang), '{{}}') AS names FROM (SELECT DISTINCT lang FROM c) d
),
h AS MATERIALIZED (
    SELECT agent, count(*)::bigint AS n, sum(agent_talk_ms + wrapup_ms)::bigint AS ms
    FROM c WHERE ba IS NOT NULL AND ended AND agent <> '' GROUP BY agent
)
SELECT (SELECT names FROM qn), (SELECT names FROM ln),
       (SELECT COALESCE(array_agg(agent ORDER BY agent), '{{}}') FROM h),
       (SELECT COALESCE(array_agg(n ORDER BY agent), '{{}}') FROM h),
       (SELECT COALESCE(array_agg(ms ORDER BY agent), '{{}}') FROM h),
       COALESCE(array_agg(COALESCE(bo, -1)::int), '{{}}'),
       COALESCE(array_agg(COALESCE(ba, -1)::int), '{{}}'),
       COALESCE(array_agg(COALESCE(bx, -1)::int), '{{}}'),
       COALESCE(array_agg(COALESCE(br, -1)::int), '{{}}'),
       COALESCE(array_agg(COALESCE(bm, -1)::int), '{{}}'),
       COALESCE(array_agg(COALESCE(bs, -1)::int), '{{}}'),
       COALESCE(array_agg(COALESCE(array_position((SELECT names FROM qn), q), 0)), '{{}}'),
       COALESCE(array_agg(array_position((SELECT names FROM ln), lang)), '{{}}'),
       COALESCE(array_agg(wait::float8), '{{}}'),
       COALESCE(array_agg(wait_ms), '{{}}'), COALESCE(array_agg(talk_ms), '{{}}'),
       COALESCE(array_agg(hold_ms), '{{}}'), COALESCE(array_agg(wrapup_ms), '{{}}'),
       COALESCE(array_agg((in_sl::int * {in_sl} + ended::int * {ended}
                           + transferred::int * {transferred}
                           + COALESCE(reached, false)::int * {reached})), '{{}}')
FROM c
-- in parts of at most 32768 calls (by id): each part's row read and freed in turn, not a year
-- of calls in one message held twice by the client library
GROUP BY c.id / 32768
"""


@dataclass(frozen=True)
class Query:
    """What to add up (reports_calls.ReportFilter's terms, as plain values: this module is
    below reports_calls, which turns the sums into figures)."""

    calls_since: datetime  # calls that started from here (a figure may land a day later)
    start: datetime  # the period [start, end): Warsaw's midnights
    end: datetime
    step: str  # day | hour | 15min
    weekdays: tuple[int, ...]  # 0 Monday
    hour_from: int
    hour_to: int
    short_abandon_s: float
    default_sl_s: float  # a queue's service-level threshold when it has none
    self_service_prefixes: tuple[str, ...]


def _buckets(q: Query) -> tuple[int, list[int], list[str]]:
    """The period's first UTC hour number, each of its hours' bucket number (-1: left out by
    the filter) and the bucket keys as the fold writes them ("2026-11-30", "2026-11-30 08:00",
    "… 08:15"; the two 02:00 hours of the autumn's clock change are one key, as there)."""
    first = int(q.start.timestamp()) // 3600
    hours = (int(q.end.timestamp()) // 3600) - first
    keys: list[str] = []
    number: dict[str, int] = {}
    buckets: list[int] = []
    weekdays = set(q.weekdays)
    for h in range(hours):
        local = datetime.fromtimestamp((first + h) * 3600, WARSAW)
        if local.weekday() not in weekdays or not q.hour_from <= local.hour < q.hour_to:
            buckets.append(-1)
            continue
        key = local.date().isoformat() if q.step == "day" else local.strftime("%Y-%m-%d %H:00")
        if key not in number:
            number[key] = len(keys)
            if q.step == "15min":
                keys.extend(f"{key[:-2]}{m:02d}" for m in (0, 15, 30, 45))
            else:
                keys.append(key)
        buckets.append(number[key])  # by 15 minutes: the hour's first quarter
    return first, buckets, keys


@dataclass(frozen=True)
class Added:
    """The period's calls added up: each grouping's table (reports_calls_columns.add_up), the
    names its cells stand for, and each consultant's (calls handled, ms of talk + wrap-up)."""

    tables: dict[str, cols.Table]
    bucket_keys: list[str]  # cell b of a table: bucket_keys[b]
    queues: list[str]  # queue cell i (from 1): queues[i - 1]
    languages: list[str]  # likewise
    handled: dict[str, tuple[int, int]]


def added_up(db: Database, q: Query) -> Added:
    """The period's calls narrowed by PostgreSQL, fetched as columns and added up."""
    if q.self_service_prefixes != SELF_SERVICE_PREFIXES:
        raise ValueError(f"call_facts knows self-service by {SELF_SERVICE_PREFIXES}, "
                         f"not {q.self_service_prefixes}")
    moments = {kind: _BUCKET[q.step].format(s=f"f.{kind}_s")
               for kind in ("offered", "answered", "abandoned", "requested", "made", "served")}
    sql = _COLUMNS.format(calls=_CALLS.format(**moments),
                          in_sl=cols.IN_SL, ended=cols.ENDED, transferred=cols.TRANSFERRED,
                          reached=cols.REACHED)
    first, buckets, keys = _buckets(q)
    params = {"since": q.calls_since, "end": q.end, "first_hour": first, "buckets": buckets,
              "default_sl": q.default_sl_s}
    # A transaction of its own (reads are autocommit elsewhere) so that SET LOCAL holds for
    # this statement only: no JIT (its estimate of the rows is far off, and compiling took
    # longer than the whole statement runs).
    with db.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SET LOCAL jit = off"))
        statement = str(sa.text(sql).compile(dialect=conn.dialect))
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection checked out of the pool
        with driver.cursor(binary=True) as cursor:
            # Each array straight into numpy as it is read: no Python object per element, and
            # no copy of its bytes kept beside the result (a year is ~400k calls).
            for name, loader in (("int4", _Int4Array), ("int8", _Int8Array),
                                 ("float8", _Float8Array)):
                cursor.adapters.register_loader(psycopg.postgres.types[name].array_oid, loader)
            rows = cursor.stream(statement, params)  # row by row (libpq's single-row mode)
            head = next(rows, None)
            parts: list[list[NDArray[Any]]] = [[] for _ in range(14)]
            for row in ([head] if head is not None else []):
                for column, array in zip(parts, row[5:], strict=True):
                    column.append(array)
            for row in rows:
                for column, array in zip(parts, row[5:], strict=True):
                    column.append(array)
    if head is None:  # no calls
        queues, languages, agents = [], [], []
        handled_n, handled_ms = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    else:
        queues, languages, agents, handled_n, handled_ms = head[:5]
        del head
    # Each column's parts joined and let go in turn (a year's parts are tens of MB).
    joined = [_joined(parts, i, np.float64 if i == 8 else np.int64) for i in range(14)]
    (offered, answered, abandoned, requested, made, served, queue, language, wait, wait_ms,
     talk_ms, hold_ms, wrapup_ms, flags) = joined
    c = cols.CallColumns(
        offered=offered, answered=answered, abandoned=abandoned, requested=requested, made=made,
        served=served, queue=queue, language=language, wait=wait, wait_ms=wait_ms,
        talk_ms=talk_ms, hold_ms=hold_ms, wrapup_ms=wrapup_ms, flags=flags)
    del joined
    tables = cols.add_up(c, buckets=len(keys), queues=len(queues), languages=len(languages),
                         short_abandon_s=q.short_abandon_s)
    handled = dict(zip(agents, zip(handled_n.tolist(), handled_ms.tolist(),
                                   strict=True), strict=True))
    return Added(tables, keys, list(queues), list(languages), handled)


def _joined(parts: list[list[NDArray[Any]]], column: int, kind: type[np.generic]) -> NDArray[Any]:
    arrays, parts[column] = parts[column], []
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=kind)


def _elements(data: Buffer, kind: str) -> NDArray[Any]:
    """The elements of a one-dimensional binary array without NULLs: after the header (the
    number of dimensions, a has-NULLs flag, the element type, then the length and lower bound
    of the dimension), each element is its length (4 bytes) and its value, big-endian."""
    head = bytes(data[:8])
    dims, has_nulls = int.from_bytes(head[0:4], "big"), int.from_bytes(head[4:8], "big")
    if dims == 0:  # an empty array
        return np.empty(0, dtype=kind)
    if dims != 1 or has_nulls:
        raise ValueError(f"expected a one-dimensional array without NULLs, got {dims} / {has_nulls}")
    element = np.dtype([("length", ">i4"), ("value", ">" + kind)])
    return np.frombuffer(data, dtype=element, offset=20)["value"].astype(kind)


class _Int4Array(Loader):
    """An int4[] in binary as an int64 numpy array (a bucket, a queue's position, flags)."""

    format = Format.BINARY

    def load(self, data: Buffer) -> NDArray[np.int64]:
        return _elements(data, "i4").astype(np.int64)


class _Int8Array(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> NDArray[np.int64]:
        return _elements(data, "i8")


class _Float8Array(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> NDArray[np.float64]:
        return _elements(data, "f8")
