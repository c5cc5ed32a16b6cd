"""The contact-center report added up by PostgreSQL: one statement per report.

Rules: the definitions are reports_calls' (its docstring states them) and every figure equals
what `reports_calls.fold_calls` / `handled_by_agent` compute from the same calls (tested on
the same data, tests/crm/test_reports_calls.py): each call becomes its events (offered at
joining the queue, answered at connecting, abandoned at hanging up in the queue, a callback
requested / made, IVR self-service at the start), each event lands in the bucket of its own
Warsaw moment if the filter keeps it, and the buckets are added up with GROUPING SETS (per
bucket and queue, per bucket, per queue, the period, per language). The p90 wait is
`percentile_disc(0.9)`, which is the fold's nearest rank (the first wait whose cumulative share
reaches 90 %). Python only turns the sums into figures (reports_calls.figures), as for the fold.

Why SQL and not a rollup table: a month is ~34k calls; read into Python and folded that was
seconds, most of it moving rows and building objects. Added up where they lie (on
ix_interactions_started) nothing new has to be kept in step when a call ends, a callback is
made the next morning or a wrap-up is recorded late. A rollup per queue and 15 minutes would
need all of those to update it, could not give an exact p90 (a percentile does not add up:
the waits themselves would have to be kept), and at the issue's volume would hardly be
smaller than the calls (1000 calls a day over ~56 daytime quarters, 7 queues and 3 languages
is about one call per cell). What it costs is sorting a month's ~58k events for the grouping
sets (README, Benchmarks: not yet within 300 ms on the shared 2-core machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from crm_core.db import Database

# The period's UTC hours that the filter keeps (its days, weekdays and hours, on their Warsaw
# reading), each with its bucket: the time zone is applied to the few hundred hours of a month
# instead of to every moment of every call (AT TIME ZONE per event was half of the time).
# Warsaw is whole hours from UTC, so one UTC hour is one local hour, as in the fold.
_HOURS = """
    SELECT h, {bucket} AS b FROM (
        SELECT h, h AT TIME ZONE 'Europe/Warsaw' AS lt
        FROM generate_series(CAST(:start AS timestamptz),
                             CAST(:end AS timestamptz) - interval '1 hour', interval '1 hour') h
    ) x
    WHERE (extract(isodow FROM lt)::int - 1) = ANY(:weekdays)
      AND extract(hour FROM lt) >= :hour_from AND extract(hour FROM lt) < :hour_to
"""

_BUCKET = {"day": "date_trunc('day', lt)", "hour": "lt", "15min": "lt"}

# A moment's bucket from its hour's (the session's time zone is UTC in the transaction, so
# date_trunc and the minute are UTC's; a quarter of a UTC hour is the same local quarter).
_EVENT_BUCKET = {
    "day": "hours.b", "hour": "hours.b",
    "15min": "hours.b + floor(extract(minute FROM e.at) / 15) * interval '15 minutes'",
}

# Durations are added up in whole milliseconds (round of a float8 is half to even, as
# reports_calls.ms): integer sums do not depend on the order of the rows.
_CALLS = """
    SELECT NULLIF(i.queue, '') AS q, COALESCE(NULLIF(i.language, ''), '?') AS lang,
           COALESCE(i.wait_s, 0) AS wait, round(COALESCE(i.wait_s, 0) * 1000)::bigint AS wait_ms,
           COALESCE(qs.sl_threshold_s, :default_sl) AS sl,
           i.queued_at, i.connected_at, i.left_queue_reason, i.left_queue_at, i.ended_at,
           round(greatest(0, COALESCE(i.talk_s, 0) - COALESCE(i.hold_s, 0)) * 1000)::bigint
               AS talk_ms,
           round(COALESCE(i.hold_s, 0) * 1000)::bigint AS hold_ms,
           CASE WHEN i.wrapped_up_at IS NOT NULL AND i.ended_at IS NOT NULL
                THEN round(greatest(0, extract(epoch FROM i.wrapped_up_at - i.ended_at)::float8)
                           * 1000)::bigint
                ELSE 0 END AS wrapup_ms,
           i.transferred_to IS NOT NULL AS transferred, i.callback_requested_at,
           i.callback_done_at, i.callback_status, i.started_at,
           i.queued_at IS NULL AND EXISTS (
               SELECT 1 FROM interaction_ivr_steps s
               WHERE s.interaction_id = i.id AND ({self_service})) AS self_served
    FROM interactions i LEFT JOIN queues qs ON qs.name = i.queue
    WHERE i.channel = 'phone' AND i.started_at >= :since AND i.started_at < :end
"""

_REPORT = """
WITH hours AS MATERIALIZED ({hours}),
calls AS ({calls}),
events AS (
    SELECT e.kind, e.at,
           CASE WHEN e.kind = 's' THEN NULL ELSE c.q END AS q,
           CASE WHEN e.kind IN ('o', 'a', 'x') THEN c.lang END AS lang,
           c.wait, c.wait_ms, c.sl, c.ended_at, c.talk_ms, c.hold_ms, c.wrapup_ms,
           c.transferred, c.callback_status
    FROM calls c CROSS JOIN LATERAL (VALUES
        ('o', CASE WHEN c.q IS NOT NULL THEN c.queued_at END),
        ('a', CASE WHEN c.q IS NOT NULL AND c.callback_requested_at IS NULL
                   THEN c.connected_at END),
        ('x', CASE WHEN c.left_queue_reason = 'abandoned' AND c.callback_requested_at IS NULL
                   THEN c.left_queue_at END),
        ('r', c.callback_requested_at),
        ('m', CASE WHEN c.callback_requested_at IS NOT NULL
                        AND c.callback_status IN ('reached', 'failed')
                   THEN c.callback_done_at END),
        ('s', CASE WHEN c.self_served THEN c.started_at END)) AS e(kind, at)
    WHERE e.at >= :start AND e.at < :end
),
kept AS (
    SELECT {event_bucket} AS b, e.*
    FROM events e JOIN hours ON hours.h = date_trunc('hour', e.at)
)
SELECT GROUPING(b, q, lang) AS g, to_char(b, '{key_format}'), q, lang,
       count(*) FILTER (WHERE kind = 'o'),
       count(*) FILTER (WHERE kind = 'a'),
       count(*) FILTER (WHERE kind = 'a' AND wait <= sl),
       count(*) FILTER (WHERE kind = 'x'),
       count(*) FILTER (WHERE kind = 'x' AND :short_abandon > 0 AND wait <= :short_abandon),
       COALESCE(sum(wait_ms) FILTER (WHERE kind = 'a'), 0)::bigint,
       count(*) FILTER (WHERE kind IN ('a', 'x')),
       COALESCE(sum(wait_ms) FILTER (WHERE kind IN ('a', 'x')), 0)::bigint,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY wait) FILTER (WHERE kind IN ('a', 'x')),
       count(*) FILTER (WHERE kind = 'a' AND ended_at IS NOT NULL),
       COALESCE(sum(talk_ms) FILTER (WHERE kind = 'a' AND ended_at IS NOT NULL), 0)::bigint,
       COALESCE(sum(hold_ms) FILTER (WHERE kind = 'a' AND ended_at IS NOT NULL), 0)::bigint,
       COALESCE(sum(wrapup_ms) FILTER (WHERE kind = 'a' AND ended_at IS NOT NULL), 0)::bigint,
       count(*) FILTER (WHERE kind = 'a' AND transferred),
       count(*) FILTER (WHERE kind = 'r'),
       count(*) FILTER (WHERE kind = 'm'),
       count(*) FILTER (WHERE kind = 'm' AND callback_status = 'reached'),
       count(*) FILTER (WHERE kind = 's')
FROM kept
GROUP BY GROUPING SETS ((b, q), (b), (q), (), (lang))
"""

# Each consultant's handled calls (connected, ended, not a callback) in the filter: how many
# and their milliseconds of talk + wrap-up (the AHT of the agents' table).
_HANDLED = """
WITH hours AS MATERIALIZED ({hours})
SELECT i.agent_username, count(*), COALESCE(sum(
           round(COALESCE(i.talk_s, 0) * 1000)::bigint
           + CASE WHEN i.wrapped_up_at IS NOT NULL
                  THEN round(greatest(0, extract(epoch FROM i.wrapped_up_at - i.ended_at)::float8)
                             * 1000)::bigint
                  ELSE 0 END), 0)
FROM interactions i JOIN hours ON hours.h = date_trunc('hour', i.connected_at)
WHERE i.channel = 'phone' AND i.started_at >= :since AND i.started_at < :end
  AND i.agent_username <> '' AND i.connected_at >= :start AND i.connected_at < :end
  AND i.ended_at IS NOT NULL AND i.callback_requested_at IS NULL
GROUP BY i.agent_username
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


def _params(q: Query) -> dict[str, Any]:
    return {
        "since": q.calls_since, "start": q.start, "end": q.end, "weekdays": list(q.weekdays),
        "hour_from": q.hour_from, "hour_to": q.hour_to, "short_abandon": q.short_abandon_s,
        "default_sl": q.default_sl_s,
    }


# The bucket keys as the fold writes them ("2026-11-30", "2026-11-30 08:00", "… 08:15"), by
# to_char: a month by 15 minutes is ~14k keys, and strftime each in Python was a third of it.
_KEY_FORMAT = {"day": "YYYY-MM-DD", "hour": "YYYY-MM-DD HH24:00", "15min": "YYYY-MM-DD HH24:MI"}

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
    hours = _HOURS.format(bucket=_BUCKET[q.step])
    report_sql = _REPORT.format(hours=hours, calls=_CALLS.format(self_service=self_service),
                                event_bucket=_EVENT_BUCKET[q.step],
                                key_format=_KEY_FORMAT[q.step])
    params = _params(q)
    # A transaction of its own (reads are autocommit elsewhere) so that SET LOCAL holds for
    # these two statements only: date_trunc and extract work in UTC (see _EVENT_BUCKET), and a
    # month's sorts for the grouping sets and percentiles stay in memory.
    with db.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SET LOCAL TIME ZONE 'UTC'"))
        conn.execute(sa.text("SET LOCAL work_mem = '32MB'"))
        rows = conn.execute(sa.text(report_sql), params).all()
        handled = {agent: (int(n), int(total)) for agent, n, total
                   in conn.execute(sa.text(_HANDLED.format(hours=hours)), params)}
    groups = [(GROUPINGS[g], b, queue if g != 0b110 else lang, tuple(sums))
              for g, b, queue, lang, *sums in rows]
    return groups, handled
