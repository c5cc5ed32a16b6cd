"""The department inbox at city scale: 500k cases on PostgreSQL, timed the way /dept asks.

    python -m bench.dept_inbox [--cases 500000 --samples 200 --keep | --database NAME]

Loads the cases (INSERT … SELECT from generate_series, one statement each for cases, their
deadlines and their status history; VACUUM ANALYZE), spread over the seed's categories and so
its departments, Warsaw's districts, three years and every status; open cases get deadlines
around now (some overdue, some due today). Then times `crm_core.services.department.inbox` —
the tab counts, the page of rows and the SLA compliance, what one inbox view costs — for the
ZDM staff member of the demo seed: every tab, then filters (category, district, status, age)
and the search. Prints p50/p99 per case (target p99 ≤ 50 ms) and the load average. Creates
its own database on 127.0.0.1:5432 and drops it afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from crm_core.db import Database, migrate
from crm_core.models import User
from crm_core.seed import seed
from crm_core.services import department
from crm_core.services.department import InboxFilter
from crm_core.warsaw import DISTRICTS


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load(dsn: str, cases: int) -> dict[str, int]:
    """The cases, each routed by category as the seed routes it; returns cases per department."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT c.id, coalesce(c.parent_id, c.id), r.department_id FROM categories c "
            "JOIN routing_rules r ON r.category_id = coalesce(c.parent_id, c.id) AND r.district IS NULL "
            "WHERE c.parent_id IS NOT NULL ORDER BY c.id")
        subs = cur.fetchall()
        cur.execute(
            "CREATE TEMP TABLE bench_subs AS SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], "
            "%s::int[]) AS t(n, sub_id, main_id, dept_id)",
            (list(range(len(subs))), [s[0] for s in subs], [s[1] for s in subs], [s[2] for s in subs]))
        cur.execute(
            "INSERT INTO cases (number, status, category_id, subcategory_id, description, priority, "
            " address, district, lat, lon, department_id, source_channel, tracking_token_hash, "
            " created_at, updated_at) "
            "SELECT '19115/' || (2024 + g %% 3) || '/' || lpad((g / 3 + 1)::text, 6, '0'), "
            "       CASE WHEN x < 0.02 THEN 'new' WHEN x < 0.06 THEN 'forwarded' "
            "            WHEN x < 0.10 THEN 'in_progress' WHEN x < 0.75 THEN 'resolved' "
            "            WHEN x < 0.90 THEN 'closed' ELSE 'rejected' END, "
            "       s.main_id, s.sub_id, 'Zgłoszenie nr ' || g || ': ' || "
            "       (ARRAY['dziura w jezdni', 'przepełniony kosz', 'niedziałająca latarnia', "
            "              'porzucony rower', 'zniszczona ławka'])[1 + g %% 5], "
            "       2, 'ul. Testowa ' || (g %% 997), (%(districts)s::text[])[1 + g %% 18], "
            "       52.15 + random() * 0.2, 20.85 + random() * 0.3, s.dept_id, 'phone', "
            "       md5(g::text) || md5('t' || g), t, t "
            "FROM (SELECT g, random() AS x, now() - random() * interval '1095 days' AS t "
            "      FROM generate_series(1, %(n)s) g) q "
            "JOIN bench_subs s ON s.n = q.g %% %(subs)s",
            {"n": cases, "subs": len(subs), "districts": list(DISTRICTS)})
        # Deadlines: every case past `new` reached its department; open ones are due around
        # now (a fifth overdue), closed ones were done on time four times out of five.
        cur.execute(
            "INSERT INTO case_work (case_id, department_id, forwarded_at, sla_hours, due_at, "
            " accepted_at, escalation_level, done_at, on_time, returns) "
            "SELECT id, department_id, created_at + interval '1 hour', 24, "
            "       CASE WHEN status IN ('forwarded', 'in_progress') "
            "            THEN now() + (random() * 10 - 2) * interval '1 day' "
            "            ELSE created_at + interval '3 days' END, "
            "       CASE WHEN status <> 'forwarded' THEN created_at + interval '2 hours' END, "
            "       CASE WHEN status IN ('forwarded', 'in_progress') AND random() < 0.1 THEN 1 ELSE 0 END, "
            "       CASE WHEN status IN ('resolved', 'rejected', 'closed') "
            "            THEN created_at + interval '2 days' END, "
            "       CASE WHEN status IN ('resolved', 'rejected') THEN random() < 0.8 END, 0 "
            "FROM cases WHERE status <> 'new'")
        cur.execute(
            "INSERT INTO case_status_history (case_id, from_status, to_status, at, by_label, public) "
            "SELECT id, NULL, 'new', created_at, 'bench', false FROM cases "
            "UNION ALL SELECT id, 'new', 'forwarded', created_at + interval '1 hour', 'bench', false "
            "FROM cases WHERE status <> 'new'")
        cur.execute("SELECT d.code, count(*) FROM cases c JOIN departments d ON d.id = c.department_id "
                    "GROUP BY d.code ORDER BY 2 DESC")
        per_department = {code: int(n) for code, n in cur.fetchall()}
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return per_department


def timed(samples: int, fn: Callable[[], Any]) -> tuple[float, float]:
    fn()  # warm: plans cached, pages in memory
    took = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        took.append(time.perf_counter() - started)
    return pct(took, 50) * 1e3, pct(took, 99) * 1e3


def bench_inbox(db: Database, samples: int) -> list[tuple[str, float, float]]:
    with db.reading() as session:
        staff_id = session.scalar(sa.select(User.id).where(User.username == "zdm_pracownik"))
    assert staff_id is not None, "the demo seed's zdm_pracownik is missing"
    scope = department.scope_of(db, staff_id)
    cases = [(f"tab {tab}", InboxFilter(tab=tab)) for tab in department.TABS]
    cases += [
        ("open + category roads.pothole", InboxFilter(category="roads.pothole")),
        ("open + district Mokotów", InboxFilter(district="Mokotów")),
        ("done + status rejected", InboxFilter(tab="done", status="rejected")),
        ("open + age older30", InboxFilter(age="older30")),
        ("done + district + category", InboxFilter(tab="done", district="Wola", category="roads")),
        ("search 'Testowa 17' (open)", InboxFilter(q="Testowa 17")),
        ("search 'latarnia' (done)", InboxFilter(tab="done", q="latarnia")),
        ("search a case number (done)", InboxFilter(tab="done", q="19115/2025/000042")),
    ]
    found = []
    for label, f in cases:
        p50, p99 = timed(samples, lambda f=f: department.inbox(db, scope, f))  # type: ignore[misc]
        rows = department.inbox(db, scope, f)
        found.append((label, p50, p99))
        print(f"  {label:<32} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
              f"({len(rows.rows)} rows, {rows.counts[f.tab]:,} in the tab)", flush=True)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dept_inbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=500_000)
    parser.add_argument("--samples", type=int, default=200, help="inbox views timed per case")
    parser.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="reuse a database kept by --keep (skips loading)")
    args = parser.parse_args(argv)
    name = args.database or f"ckm_bench_dept_{uuid.uuid4().hex[:8]}"
    if args.database:
        args.keep = True
    else:
        with psycopg.connect(f"{args.pg} dbname=postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = f"{args.pg} dbname={name}"
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    url = (f"postgresql+psycopg://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}"
           f":{info.get('port', 5432)}/{name}")
    db = Database(url, pool_size=2)
    try:
        if not args.database:
            started = time.perf_counter()
            migrate(url)
            seed(db, demo=True)
            per_department = load(dsn, args.cases)
            print(f"database {name}: {args.cases:,} cases loaded in {time.perf_counter() - started:.1f} s "
                  f"({', '.join(f'{k} {v:,}' for k, v in per_department.items())})", flush=True)
        print(f"department inbox of zdm_pracownik (ZDM), {args.samples} views each "
              "(tab counts + page + compliance):", flush=True)
        found = bench_inbox(db, args.samples)
        worst = max(found, key=lambda f: f[2])
        print(f"worst p99: {worst[2]:.2f} ms ({worst[0]}); target ≤ 50 ms: "
              f"{'met' if worst[2] <= 50 else 'NOT met'}")
        print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()), f"({os.cpu_count()} cores)")
    finally:
        db.dispose()
        if not args.keep:
            with psycopg.connect(f"{args.pg} dbname=postgres", autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
