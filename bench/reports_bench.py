"""Reports at a city's scale: one year of history on PostgreSQL, timed the way /reports asks.

    python -m bench.reports_bench [--calls 400000 --cases 365000 --keep | --database NAME]

Loads a year (1 Dec 2025 – 30 Nov 2026, Warsaw) with INSERT … SELECT from generate_series,
server-side: the calls (85 % queued over the seed's queues, 88 % of those answered with talk,
hold and wrap-up, the rest abandoned; the others ended in the IVR, a third after a status
lookup), 60 agents' state changes through each working day (a call every ten minutes: 3.6M
changes) with their hourly totals, and the cases with their status
history and deadlines (forwarded after 1–48 h, most finished, a few returned or duplicated).
Then times, each after one warm-up run:
- a month's queue report (November 2026 by day: calls per queue and in total, agents) and the
  same by 15 minutes, each two ways in turns: before (the period's calls read and folded in
  Python) and now (call_facts read by PostgreSQL and added up as columns: reports_calls_sql,
  reports_calls_columns), checked to be equal,
- a year's case report (by category, subcategory, district, channel, department, backlog,
  repeat callers), checked to equal the same report folded in Python from the year's cases,
- the export of the whole year (calls by day, agents, cases) to XLSX: time and peak memory of
  the process that does it (a fresh child, so the figure is the export's own).
Prints p50/p99 (targets: ≤ 300 ms p99 for a month, ≤ 2 s for a year) and the load average.
Creates its own database on 127.0.0.1:5432 and drops it afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import psycopg

from bench import pg_scratch
from crm_core.db import Database
from crm_core.services import reports_calls, reports_cases, reports_export
from crm_core.services.reports_calls import ReportFilter
from crm_core.warsaw import DISTRICTS

YEAR_START = "2025-12-01 00:00:00+01"
MONTH = (date(2026, 11, 1), date(2026, 11, 30))
YEAR = (date(2025, 12, 1), date(2026, 11, 30))
NOW = datetime.fromisoformat("2026-12-01T08:00:00+01:00")


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load(dsn: str, calls: int, cases: int, agents: int) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT array_agg(name ORDER BY name) FROM queues")
        queues = cur.fetchone()[0]  # type: ignore[index]
        # Calls: started through the day (07–21 h) on a random day of the year.
        cur.execute(
            "CREATE TEMP TABLE bench_calls AS "
            "SELECT g, random() AS kind, random() AS r, "
            "       %(start)s::timestamptz + (g %% 365) * interval '1 day' "
            "         + interval '7 hours' + random() * interval '14 hours' AS t, "
            "       (random() * 120)::numeric(6,1)::float AS wait, "
            "       60 + random() * 340 AS talk "
            "FROM generate_series(1, %(n)s) g",
            {"start": YEAR_START, "n": calls})
        cur.execute(
            "INSERT INTO interactions (channel, call_id, caller_number, dialed, started_at, "
            " answered_at, ended_at, end_reason, queue, queued_at, priority, agent_username, "
            " connected_at, wait_s, talk_s, hold_s, wrapped_up_at, transferred_to, "
            " left_queue_reason, left_queue_at, language, callback_number, callback_status, "
            " callback_attempts, callback_requested_at, callback_done_at) "
            "SELECT 'phone', 'bench-' || g, '+48600' || lpad((g %% 150000)::text, 6, '0'), '19115', t, "
            "  t + interval '1 second', "
            "  CASE WHEN kind >= 0.85 THEN t + interval '50 seconds' "
            "       WHEN r < 0.88 THEN t + (40 + wait + talk) * interval '1 second' "
            "       ELSE t + (40 + wait) * interval '1 second' END, "
            "  CASE WHEN kind >= 0.85 THEN 'caller_hangup' ELSE 'caller_hangup_in_queue' END, "
            "  CASE WHEN kind < 0.85 THEN (%(queues)s::text[])[1 + g %% %(nq)s] END, "
            "  CASE WHEN kind < 0.85 THEN t + interval '40 seconds' END, 2, "
            "  CASE WHEN kind < 0.85 AND r < 0.88 THEN 'agent' || (g %% %(agents)s) END, "
            "  CASE WHEN kind < 0.85 AND r < 0.88 THEN t + (40 + wait) * interval '1 second' END, "
            "  CASE WHEN kind < 0.85 THEN wait END, "
            "  CASE WHEN kind < 0.85 AND r < 0.88 THEN talk END, "
            "  CASE WHEN kind < 0.85 AND r < 0.18 THEN 30.0 END, "
            "  CASE WHEN kind < 0.85 AND r < 0.88 "
            "       THEN t + (40 + wait + talk + 10 + (g %% 50)) * interval '1 second' END, "
            "  CASE WHEN kind < 0.85 AND r < 0.05 THEN 'blind:queue:ogolna' END, "
            "  CASE WHEN kind < 0.85 AND r >= 0.88 AND r < 0.99 THEN 'abandoned' END, "
            "  CASE WHEN kind < 0.85 AND r >= 0.88 AND r < 0.99 "
            "       THEN t + (40 + wait) * interval '1 second' END, "
            "  (ARRAY['pl', 'pl', 'pl', 'pl', 'pl', 'pl', 'pl', 'en', 'uk', 'uk'])[1 + g %% 10], "
            "  CASE WHEN kind < 0.85 AND r >= 0.99 THEN '+48600100200' END, "
            "  CASE WHEN kind < 0.85 AND r >= 0.99 THEN "
            "       (CASE WHEN g %% 3 = 0 THEN 'failed' ELSE 'reached' END) END, "
            "  CASE WHEN kind < 0.85 AND r >= 0.99 THEN 1 END, "
            "  CASE WHEN kind < 0.85 AND r >= 0.99 THEN t + interval '60 seconds' END, "
            "  CASE WHEN kind < 0.85 AND r >= 0.99 THEN t + interval '30 minutes' END "
            "FROM bench_calls",
            {"queues": queues, "nq": len(queues), "agents": agents})
        # The IVR-only calls: a third looked up a status (self-service), the rest left the menu.
        cur.execute(
            "INSERT INTO interaction_ivr_steps (interaction_id, seq, at, script, version, node, "
            " input_kind, input_value, next_node) "
            "SELECT id, 1, started_at + interval '20 seconds', '19115', '1', "
            "       CASE WHEN id %% 3 = 0 THEN 'status_lookup' ELSE 'main_menu' END, "
            "       'dtmf', '3', 'x' "
            "FROM interactions WHERE queued_at IS NULL", {})
        cur.execute(
            "INSERT INTO users (username, full_name, role, password_hash, is_active, created_at) "
            "SELECT 'agent' || a, 'Konsultant ' || a, 'consultant', '!', true, now() "
            "FROM generate_series(0, %(agents)s - 1) a", {"agents": agents})
        # Agents: each working day 08–16 h, available with a call every ~10 minutes
        # (reserved → on_call → wrap_up → available), a 15-minute pause at noon, offline at 16.
        cur.execute(
            "INSERT INTO agent_state_log (agent, at, state, reason, call_id) "
            "SELECT 'agent' || a, d + interval '8 hours' + m * interval '1 minute' "
            "         + s.off * interval '1 second', s.state, s.reason, "
            "       CASE WHEN s.state IN ('reserved', 'on_call', 'wrap_up') "
            "            THEN 'c-' || a || '-' || m END "
            "FROM generate_series(0, %(agents)s - 1) a, "
            "     generate_series(%(start)s::timestamptz, %(start)s::timestamptz + interval '364 days', "
            "                     interval '1 day') d, "
            "     generate_series(0, 470, 10) m, "
            "     (VALUES (0, 'available', ''), (300, 'reserved', ''), (310, 'on_call', ''), "
            "             (500, 'wrap_up', ''), (540, 'available', '')) s(off, state, reason) "
            "WHERE extract(isodow FROM d) < 6 AND NOT (m = 240) "
            "UNION ALL "
            "SELECT 'agent' || a, d + interval '12 hours', 'paused', 'przerwa', NULL "
            "FROM generate_series(0, %(agents)s - 1) a, "
            "     generate_series(%(start)s::timestamptz, %(start)s::timestamptz + interval '364 days', "
            "                     interval '1 day') d WHERE extract(isodow FROM d) < 6 "
            "UNION ALL "
            "SELECT 'agent' || a, d + interval '16 hours', 'offline', '', NULL "
            "FROM generate_series(0, %(agents)s - 1) a, "
            "     generate_series(%(start)s::timestamptz, %(start)s::timestamptz + interval '364 days', "
            "                     interval '1 day') d WHERE extract(isodow FROM d) < 6",
            {"agents": agents, "start": YEAR_START})
        # Their hourly totals, as the CRM recorder keeps them (no spell here crosses an hour).
        cur.execute(
            "INSERT INTO agent_state_hours (agent, hour, state, reason, weekday, hour_of_day, "
            " seconds, unanswered) "
            "SELECT agent, date_trunc('hour', at AT TIME ZONE 'Europe/Warsaw') "
            "         AT TIME ZONE 'Europe/Warsaw', state, reason, "
            "       extract(isodow FROM at AT TIME ZONE 'Europe/Warsaw') - 1, "
            "       extract(hour FROM at AT TIME ZONE 'Europe/Warsaw'), "
            "       sum(extract(epoch FROM next_at - at)), 0 "
            "FROM (SELECT agent, at, state, reason, "
            "             lead(at) OVER (PARTITION BY agent ORDER BY at, id) AS next_at "
            "      FROM agent_state_log) spells "
            "WHERE state <> 'offline' AND next_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6", {})
        # Cases, routed by category as the seed routes them.
        cur.execute(
            "SELECT c.id, coalesce(c.parent_id, c.id), r.department_id FROM categories c "
            "JOIN routing_rules r ON r.category_id = coalesce(c.parent_id, c.id) "
            " AND r.district IS NULL WHERE c.parent_id IS NOT NULL ORDER BY c.id")
        subs = cur.fetchall()
        cur.execute(
            "CREATE TEMP TABLE bench_subs AS SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], "
            "%s::int[]) AS t(n, sub_id, main_id, dept_id)",
            (list(range(len(subs))), [s[0] for s in subs], [s[1] for s in subs],
             [s[2] for s in subs]))
        cur.execute(
            "INSERT INTO cases (number, status, category_id, subcategory_id, description, priority, "
            " address, district, department_id, source_channel, tracking_token_hash, created_at, "
            " updated_at, duplicate_of_id) "
            "SELECT 'B/' || g, "
            "  CASE WHEN x < 0.03 THEN 'new' WHEN x < 0.08 THEN 'forwarded' "
            "       WHEN x < 0.12 THEN 'in_progress' WHEN x < 0.80 THEN 'resolved' "
            "       WHEN x < 0.92 THEN 'closed' ELSE 'rejected' END, "
            "  s.main_id, s.sub_id, 'Zgłoszenie ' || g, 2, 'ul. Testowa ' || (g %% 997), "
            "  (%(districts)s::text[])[1 + g %% 18], s.dept_id, "
            "  (ARRAY['phone', 'phone', 'phone', 'portal', 'portal', 'app', 'email'])[1 + g %% 7], "
            "  md5(g::text) || md5('t' || g), t, t, NULL "
            "FROM (SELECT g, random() AS x, %(start)s::timestamptz + random() * interval '365 days' AS t "
            "      FROM generate_series(1, %(n)s) g) q "
            "JOIN bench_subs s ON s.n = q.g %% %(subs)s",
            {"n": cases, "subs": len(subs), "districts": list(DISTRICTS), "start": YEAR_START})
        cur.execute("UPDATE cases SET duplicate_of_id = id - 1 WHERE id %% 50 = 0 "
                    "AND status = 'closed'", {})
        cur.execute(
            "CREATE TEMP TABLE bench_times AS SELECT id, status, created_at, "
            "  created_at + (1 + random() * 47) * interval '1 hour' AS fwd, "
            "  created_at + (2 + random() * 400) * interval '1 hour' AS fin, "
            "  random() < 0.03 AS returned FROM cases")
        cur.execute(
            "INSERT INTO case_status_history (case_id, from_status, to_status, at, by_label, public) "
            "SELECT id, NULL, 'new', created_at, 'bench', false FROM bench_times "
            "UNION ALL SELECT id, 'new', 'forwarded', fwd, 'bench', false FROM bench_times "
            "  WHERE status <> 'new' "
            "UNION ALL SELECT id, 'forwarded', 'new', fwd + interval '1 hour', 'bench', false "
            "  FROM bench_times WHERE status <> 'new' AND returned "
            "UNION ALL SELECT id, 'new', 'forwarded', fwd + interval '2 hours', 'bench', false "
            "  FROM bench_times WHERE status <> 'new' AND returned "
            "UNION ALL SELECT id, 'forwarded', status, fin, 'bench', true FROM bench_times "
            "  WHERE status IN ('resolved', 'closed', 'rejected')")
        # What the CRM keeps on each case with every status change (migration 0011).
        cur.execute(
            "UPDATE cases SET first_forwarded_at = h.f, finished_at = h.fin, forwardings = h.n "
            "FROM (SELECT case_id, min(at) FILTER (WHERE to_status = 'forwarded') AS f, "
            "        max(at) FILTER (WHERE to_status IN ('resolved', 'closed', 'rejected')) AS fin, "
            "        count(*) FILTER (WHERE to_status = 'forwarded') AS n "
            "      FROM case_status_history GROUP BY case_id) h WHERE h.case_id = cases.id")
        cur.execute(
            "INSERT INTO case_work (case_id, department_id, forwarded_at, sla_hours, due_at, "
            " escalation_level, done_at, on_time, returns) "
            "SELECT t.id, c.department_id, t.fwd, 40, t.fwd + interval '5 days', 0, "
            "  CASE WHEN t.status IN ('resolved', 'closed', 'rejected') THEN t.fin END, "
            "  CASE WHEN t.status IN ('resolved', 'rejected') THEN t.fin <= t.fwd + interval '5 days' END, "
            "  CASE WHEN t.returned THEN 1 ELSE 0 END "
            "FROM bench_times t JOIN cases c ON c.id = t.id WHERE t.status <> 'new'")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The UPDATE above left every case's old version behind; the CRM's table, written case
        # by case, would not be three times its size.
        conn.execute("VACUUM FULL cases")
        conn.execute("VACUUM ANALYZE")


def timed(samples: int, fn: Callable[[], Any]) -> tuple[float, float]:
    fn()  # warm: plans cached, pages in memory
    took = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        took.append(time.perf_counter() - started)
    return pct(took, 50) * 1e3, pct(took, 99) * 1e3


def _export_year(url: str, out: Any) -> None:
    """In a fresh child: the year's tables into an XLSX; sends (seconds, peak RSS kB, bytes)."""
    db = Database(url, pool_size=1)
    started = time.perf_counter()
    flt = ReportFilter(*YEAR, step="day")
    cc = reports_calls.contact_center_report(db, flt, now=NOW)
    cases = reports_cases.case_report(db, flt.start, flt.end, now=NOW)
    buffer = io.BytesIO()
    reports_export.to_xlsx([*reports_export.call_tables(cc, "pl"),
                            *reports_export.case_tables(cases, "pl")], buffer)
    took = time.perf_counter() - started
    db.dispose()
    out.send((took, _peak_kb(), len(buffer.getvalue())))


def _peak_kb() -> int:
    """This process's own peak RSS: VmHWM of its memory map. (ru_maxrss also keeps the peak
    of the map before exec — the parent's, copied at fork — so it showed the benchmark's own
    size whenever that was the larger.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def export_year(url: str) -> tuple[float, int, int]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_export_year, args=(url, child))
    proc.start()
    result: tuple[float, int, int] = parent.recv()
    proc.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400_000)
    parser.add_argument("--cases", type=int, default=365_000)
    parser.add_argument("--agents", type=int, default=60, help="consultants (the issue's center)")
    parser.add_argument("--samples", type=int, default=30, help="runs timed per month report")
    parser.add_argument("--year-samples", type=int, default=8, help="runs timed per year report")
    pg_scratch.add_options(parser)
    args = parser.parse_args(argv)
    def loaded(dsn: str) -> str:
        load(dsn, args.calls, args.cases, args.agents)
        return f"{args.calls:,} calls and {args.cases:,} cases over a year"

    with pg_scratch.loaded_database(args, prefix="ckm_bench_reports", demo=True,
                                    load=loaded) as (scratch, db):
        run(db, scratch.url, args)
    return 0


def run(db: Database, url: str, args: argparse.Namespace) -> None:
    month = ReportFilter(*MONTH, step="day")
    report = reports_calls.contact_center_report(db, month, now=NOW)
    print(f"November 2026: {report.calls.total().offered:,} calls offered, "
          f"{len(report.agents)} agents", flush=True)
    rows: list[tuple[str, float, float, float]] = []

    def measure(label: str, samples: int, target_ms: float, fn: Callable[[], Any]) -> None:
        p50, p99 = timed(samples, fn)
        rows.append((label, p50, p99, target_ms))
        print(f"  {label:<44} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  "
              f"(target p99 ≤ {target_ms:,.0f} ms: {'met' if p99 <= target_ms else 'NOT met'})",
              flush=True)

    def folded(flt: ReportFilter) -> Any:
        # The report as it was computed before reports_calls_sql: every call of the period
        # read into Python and folded there (still the SQLite path).
        calls, handled = reports_calls.folded_report_and_handled(db, flt)
        agents = reports_calls.fold_agents(reports_calls.hour_rows(db, flt),
                                           reports_calls.current_states(db), handled, flt, NOW)
        return calls, agents

    def side_by_side(label: str, flt: ReportFilter) -> None:
        now = reports_calls.contact_center_report(db, flt, now=NOW)
        calls, agents = folded(flt)
        assert (now.calls, now.agents) == (calls, agents), label  # the same figures
        took_before: list[float] = []
        took_now: list[float] = []
        for _ in range(args.samples):  # in turns, so both meet the same load
            for fn, took in ((lambda: folded(flt), took_before),
                             (lambda: reports_calls.contact_center_report(db, flt, now=NOW),
                              took_now)):
                started = time.perf_counter()
                fn()
                took.append((time.perf_counter() - started) * 1e3)
        p99 = pct(took_now, 99)
        print(f"  {label:<40} before (fold) p50 {pct(took_before, 50):7.1f} p99 "
              f"{pct(took_before, 99):7.1f} ms | now (SQL) p50 {pct(took_now, 50):6.1f} p99 "
              f"{p99:6.1f} ms  (target p99 ≤ 300 ms: {'met' if p99 <= 300 else 'NOT met'})",
              flush=True)

    side_by_side("month's queue report, by day (+ agents)", month)
    side_by_side("month's queue report, by 15 minutes", ReportFilter(*MONTH, step="15min"))
    year = ReportFilter(*YEAR)
    folded_year = reports_cases.fold_cases(
        reports_cases.case_rows(db, year.start, year.end), NOW,
        reports_cases.repeat_callers(db, year.start, year.end))
    assert reports_cases.case_report(db, year.start, year.end, now=NOW) == folded_year, \
        "the year's case report is not the fold's"
    measure("year's case report (district and the rest)", args.year_samples, 2000,
            lambda: reports_cases.case_report(db, year.start, year.end, now=NOW))
    took, peak_kb, size = export_year(url)
    print(f"  export of the year to XLSX (calls by day, agents, cases): {took:.2f} s, "
          f"peak memory of the exporting process {peak_kb / 1024:.0f} MiB, "
          f"{size / 1024:.0f} KiB written", flush=True)
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()),
          f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    raise SystemExit(main())
