"""The contact-center report added up by PostgreSQL: one statement per report.

Rules: the definitions are reports_calls' (its docstring states them) and every figure equals
what `reports_calls.fold_calls` / `handled_by_agent` compute from the same calls (tested on
the same data, tests/crm/test_reports_calls.py): each kind of figure (offered at joining the
queue, answered at connecting, abandoned at hanging up in the queue, a callback requested /
made, IVR self-service at the start) lands in the bucket of its own Warsaw moment if the filter
keeps it, and is added up with GROUPING SETS (per bucket and queue, per bucket, per queue, the
period, per language). The p90 wait is `percentile_disc(0.9)`, which is the fold's nearest rank
(the first wait whose cumulative share reaches 90 %). Python only turns the sums into figures
(reports_calls.figures), as for the fold.

Why SQL and not a rollup table: a month is ~34k calls; read into Python and folded that was
seconds, most of it moving rows and building objects. Added up where they lie (on
ix_interactions_started) nothing new has to be kept in step when a call ends, a callback is
made the next morning or a wrap-up is recorded late. A rollup per queue and 15 minutes would
need all of those to update it, could not give an exact p90 (a percentile does not add up:
the waits themselves would have to be kept), and at the issue's volume would hardly be
smaller than the calls (1000 calls a day over ~56 daytime quarters, 7 queues and 3 languages
is about one call per cell). What it costs (README, Benchmarks): reading and narrowing the
month's calls, one sort of the ~28k answered and abandoned callers per grouping for the p90,
and ~14k rows out for a month by 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.warsaw import TIMEZONE as WARSAW

# A moment's bucket without a time zone per moment: its whole seconds since the epoch (s)
# give its UTC hour, and the filter's hours (`_buckets`: the period's, on their Warsaw reading;
# Warsaw is whole hours from UTC, so one UTC hour is one local hour) give that hour's bucket
# number, or NULL when the filter leaves the hour out (or it is outside the period: the array
# ends there). By 15 minutes the quarter of the UTC hour is the same local quarter.
_SECONDS = "floor(date_part('epoch', {at}))::bigint"
# (-1 for an hour left out, not NULL: an element of an array without NULLs is found by its
# offset, with NULLs by walking the array's null bitmap up to it.)
_HOUR_BUCKET = "NULLIF(p.buckets[({s} / 3600 - p.first_hour + 1)::int], -1)"
_BUCKET = {"day": _HOUR_BUCKET, "hour": _HOUR_BUCKET, "15min": _HOUR_BUCKET + " + {s} % 3600 / 900"}

# The period's phone calls, once each, narrowed to what is added up: their durations in whole
# milliseconds (round of a float8 is half to even, as reports_calls.ms; integer sums do not
# depend on the order of the rows) and the bucket of each of their moments that counts — the
# definitions of reports_calls' docstring, NULL when the call has no such figure.
_CALLS = """
    SELECT NULLIF(i.queue, '') AS q, COALESCE(NULLIF(i.language, ''), '?') AS lang,
           COALESCE(i.wait_s, 0) AS wait, round(COALESCE(i.wait_s, 0) * 1000)::bigint AS wait_ms,
           COALESCE(i.wait_s, 0) <= COALESCE(qs.sl_threshold_s, :default_sl) AS in_sl,
           i.ended_at IS NOT NULL AS ended,
           round(greatest(0, COALESCE(i.talk_s, 0) - COALESCE(i.hold_s, 0)) * 1000)::bigint
               AS talk_ms,
           round(COALESCE(i.hold_s, 0) * 1000)::bigint AS hold_ms,
           CASE WHEN i.wrapped_up_at IS NOT NULL AND i.ended_at IS NOT NULL
                THEN round(greatest(0, extract(epoch FROM i.wrapped_up_at - i.ended_at)::float8)
                           * 1000)::bigint
                ELSE 0 END AS wrapup_ms,
           i.transferred_to IS NOT NULL AS transferred,
           i.agent_username AS agent, round(COALESCE(i.talk_s, 0) * 1000)::bigint AS agent_talk_ms,
           i.callback_status = 'reached' AS reached,
           CASE WHEN i.queue <> '' THEN {queued} END AS bo,
           CASE WHEN i.callback_requested_at IS NULL THEN {connected} END AS ba,
           CASE WHEN i.left_queue_reason = 'abandoned' AND i.callback_requested_at IS NULL
                THEN {left} END AS bx,
           CASE WHEN i.callback_requested_at IS NOT NULL THEN {requested} END AS br,
           CASE WHEN i.callback_requested_at IS NOT NULL
                     AND i.callback_status IN ('reached', 'failed') THEN {done} END AS bm,
           CASE WHEN i.queued_at IS NULL AND (
               -- a scalar subquery, probed per IVR call on the steps' index (an EXISTS was
               -- planned as one hash of every step of all time)
               SELECT true FROM interaction_ivr_steps s
               WHERE s.interaction_id = i.id AND ({self_service}) LIMIT 1) THEN {started} END AS bs
    FROM p, interactions i LEFT JOIN queues qs ON qs.name = i.queue
    WHERE i.channel = 'phone' AND i.started_at >= :since AND i.started_at < :end
"""

# Each kind of figure added up over the calls that have it, by its own bucket, with GROUPING
# SETS per bucket and queue / bucket / queue / period / language: the answered and abandoned
# callers in one stream with their waits' nearest-rank p90 (percentile_disc, the fold's rank;
# one sort per grouping, over the ~28k settled callers of a month), the offered calls (a
# count, hashed), the callbacks and the self-service (a few percent of the calls). The kinds'
# groups meet in hash full joins on (grouping, bucket, queue, language) — NULL keys written as
# -1 and '': a queue is never '' here — and come out as one row each, in the order of
# reports_calls.Totals' fields. Every call's events in one pass with a FILTER per sum, or the
# kinds' rows added up in one more aggregation, was most of the time (README, Benchmarks).
_REPORT = """
WITH p AS MATERIALIZED (
    -- the parameters as one row's columns: a cast of a parameter inside an expression is
    -- redone for every row once the statement runs on a generic (prepared) plan
    SELECT CAST(:buckets AS int[]) AS buckets, CAST(:first_hour AS bigint) AS first_hour
),
c AS MATERIALIZED ({calls}),
settled AS (
    SELECT ba AS b, q, lang, wait, wait_ms, 1 AS answered, in_sl::int AS in_sl, 0 AS abandoned,
           0 AS short, wait_ms AS answered_wait_ms, ended::int AS handled,
           CASE WHEN ended THEN talk_ms ELSE 0 END AS talk_ms,
           CASE WHEN ended THEN hold_ms ELSE 0 END AS hold_ms,
           CASE WHEN ended THEN wrapup_ms ELSE 0 END AS wrapup_ms,
           transferred::int AS transferred
    FROM c WHERE ba IS NOT NULL AND q IS NOT NULL
    UNION ALL
    SELECT bx, q, lang, wait, wait_ms, 0, 0, 1,
           (:short_abandon > 0 AND wait <= :short_abandon)::int, 0, 0, 0, 0, 0, 0
    FROM c WHERE bx IS NOT NULL
),
s AS (
    SELECT GROUPING(b, q, lang) AS g, COALESCE(b, -1) AS kb, COALESCE(q, '') AS kq,
           COALESCE(lang, '') AS kl, sum(answered) AS answered, sum(in_sl) AS in_sl,
           sum(abandoned) AS abandoned, sum(short) AS short,
           sum(answered_wait_ms) AS answered_wait_ms, count(*) AS waits,
           sum(wait_ms) AS waits_ms, percentile_disc(0.9) WITHIN GROUP (ORDER BY wait) AS p90,
           sum(handled) AS handled, sum(talk_ms) AS talk_ms, sum(hold_ms) AS hold_ms,
           sum(wrapup_ms) AS wrapup_ms, sum(transferred) AS transferred
    FROM settled GROUP BY GROUPING SETS ((b, q), (b), (q), (), (lang))
),
o AS (
    SELECT GROUPING(bo, q, lang) AS g, COALESCE(bo, -1) AS kb, COALESCE(q, '') AS kq,
           COALESCE(lang, '') AS kl, count(*) AS offered
    FROM c WHERE bo IS NOT NULL GROUP BY GROUPING SETS ((bo, q), (bo), (q), (), (lang))
),
r AS (
    SELECT GROUPING(br, q) * 2 + 1 AS g, COALESCE(br, -1) AS kb, COALESCE(q, '') AS kq,
           '' AS kl, count(*) AS requested
    FROM c WHERE br IS NOT NULL GROUP BY GROUPING SETS ((br, q), (br), (q), ())
),
m AS (
    SELECT GROUPING(bm, q) * 2 + 1 AS g, COALESCE(bm, -1) AS kb, COALESCE(q, '') AS kq,
           '' AS kl, count(*) AS made, sum(reached::int) AS reached
    FROM c WHERE bm IS NOT NULL GROUP BY GROUPING SETS ((bm, q), (bm), (q), ())
),
i AS (
    SELECT GROUPING(bs) * 4 + 3 AS g, COALESCE(bs, -1) AS kb, '' AS kq, '' AS kl,
           count(*) AS served
    FROM c WHERE bs IS NOT NULL GROUP BY GROUPING SETS ((bs), ())
)
SELECT g, NULLIF(kb, -1), CASE WHEN g = 6 THEN kl ELSE NULLIF(kq, '') END,
       COALESCE(offered, 0), COALESCE(answered, 0), COALESCE(in_sl, 0), COALESCE(abandoned, 0),
       COALESCE(short, 0), COALESCE(answered_wait_ms, 0)::bigint, COALESCE(waits, 0),
       COALESCE(waits_ms, 0)::bigint, p90, COALESCE(handled, 0),
       COALESCE(talk_ms, 0)::bigint, COALESCE(hold_ms, 0)::bigint,
       COALESCE(wrapup_ms, 0)::bigint, COALESCE(transferred, 0), COALESCE(requested, 0),
       COALESCE(made, 0), COALESCE(reached, 0), COALESCE(served, 0)
FROM s FULL JOIN o USING (g, kb, kq, kl) FULL JOIN r USING (g, kb, kq, kl)
    FULL JOIN m USING (g, kb, kq, kl) FULL JOIN i USING (g, kb, kq, kl)
UNION ALL
-- each consultant's handled calls (connected in the filter, ended, not a callback): how many
-- and their milliseconds of talk + wrap-up (the AHT of the agents' table)
SELECT -1, NULL, agent, count(*), sum(agent_talk_ms + wrapup_ms)::bigint, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM c WHERE ba IS NOT NULL AND ended AND agent <> '' GROUP BY agent
"""

# GROUPING(b, q, lang): a bit set for each column the row is not grouped by.
GROUPINGS = {0b001: "bucket_queue", 0b011: "bucket", 0b101: "queue", 0b111: "period",
             0b110: "language"}


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


# One row of sums: offered, answered, answered in the level, abandoned, short abandoned,
# answered callers' wait (ms), waits counted, their sum (ms), their p90 (s), handled, talk,
# hold, wrap-up (ms), transfers, callbacks requested, made, reached, self-service — the order
# of reports_calls.Totals' fields.
Sums = tuple[Any, ...]


def added_up(db: Database, q: Query
             ) -> tuple[list[tuple[str, str | None, str | None, Sums]], dict[str, tuple[int, int]]]:
    """(grouping, bucket key, queue or language, sums) for every group the statement makes,
    and each consultant's (calls handled, ms of talk + wrap-up)."""
    # starts_with, not LIKE: the prefixes' "_" is a letter here, not a wildcard.
    self_service = " OR ".join(f"starts_with(s.node, '{p}')" for p in q.self_service_prefixes)
    moments = {name: _BUCKET[q.step].format(s=_SECONDS.format(at=f"i.{column}"))
               for name, column in (("queued", "queued_at"), ("connected", "connected_at"),
                                    ("left", "left_queue_at"), ("requested", "callback_requested_at"),
                                    ("done", "callback_done_at"), ("started", "started_at"))}
    sql = _REPORT.format(calls=_CALLS.format(self_service=self_service, **moments))
    first, buckets, keys = _buckets(q)
    params = {"since": q.calls_since, "end": q.end, "first_hour": first, "buckets": buckets,
              "short_abandon": q.short_abandon_s, "default_sl": q.default_sl_s}
    # A transaction of its own (reads are autocommit elsewhere) so that SET LOCAL holds for
    # this statement only: no JIT (its estimate of the rows is far off, and compiling took
    # longer than the whole statement runs), a month's sorts in memory.
    with db.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SET LOCAL jit = off"))
        conn.execute(sa.text("SET LOCAL work_mem = '32MB'"))
        conn.execute(sa.text("SET LOCAL enable_mergejoin = off"))
        # In binary on psycopg's own cursor: a month by 15 minutes is ~14k rows of 21 values,
        # and writing them as text and parsing them back was a third of the statement's time.
        statement = str(sa.text(sql).compile(dialect=conn.dialect))
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection checked out of the pool
        with driver.cursor(binary=True) as cursor:
            rows = cursor.execute(statement, params).fetchall()
    groups: list[tuple[str, str | None, str | None, Sums]] = []
    handled: dict[str, tuple[int, int]] = {}
    for row in rows:
        g = row[0]
        if g < 0:
            handled[row[2]] = (row[3], row[4])
        else:
            b = row[1]
            groups.append((GROUPINGS[g], None if b is None else keys[b], row[2], row[3:]))
    return groups, handled
