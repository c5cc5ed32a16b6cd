"""The map of reports at a city's scale: a year of cases with points on PostgreSQL, and the
month's points as /reports/map/api/points serves them.

    python -m bench.map_bench [--cases 365000 --samples 30 --keep | --database NAME]

Loads 365k cases over a year (1 Dec 2025 – 30 Nov 2026, Warsaw) in the order they were
reported (as the CRM adds them), each with a point inside the
district it records (points drawn with crm_core.geo.districts.random_point, a pool of 1000 per
district; more reports in the bigger and busier districts), statuses and categories mixed, one
in ten without a point. Then times, after one warm-up run each:
- November's points (~30k), all categories and statuses, of one category, and of one status,
  each as the API answers (/reports/map/api/points): before — case_points' rows read into
  Python and encoded with json.dumps(as_json(...)); now — points_json, where PostgreSQL writes
  the points' JSON array (json_agg) in the statement that counts the districts. The two are
  timed in turns on the same filters and checked to give the same answer.
Prints p50/p99 (target ≤ 300 ms p99 for a month) and the load average. Creates its own
database on 127.0.0.1:5432 and drops it afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import date

import psycopg

from bench import pg_scratch
from crm_core.db import Database
from crm_core.geo import case_points as geo
from crm_core.geo.districts import random_point, shapes

YEAR_START = "2025-12-01 00:00:00+01"
MONTH = geo.MapFilter(date(2026, 11, 1), date(2026, 11, 30))
POOL = 1000


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load(dsn: str, cases: int) -> None:
    rng = random.Random(19115)
    districts = [s.name for s in shapes()]
    # Busier where more people live and work: weight by area, the centre counted thrice.
    weights = [s.area_km2 * (3 if s.name in ("Śródmieście", "Wola", "Mokotów") else 1) for s in shapes()]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_points (d int, k int, lat float8, lon float8)")
        with cur.copy("COPY bench_points (d, k, lat, lon) FROM STDIN") as copy:
            for d, name in enumerate(districts):
                for k in range(POOL):
                    copy.write_row((d, k, *random_point(name, rng)))
        cur.execute("CREATE TEMP TABLE bench_pick AS "
                    "SELECT g, d FROM unnest(%s::int[]) WITH ORDINALITY AS t(d, g)",
                    (rng.choices(range(len(districts)), weights, k=cases),))
        cur.execute("SELECT array_agg(id ORDER BY id) FROM categories WHERE parent_id IS NULL")
        mains = cur.fetchone()[0]  # type: ignore[index]
        cur.execute(
            "INSERT INTO cases (number, status, category_id, description, priority, address, "
            " district, lat, lon, source_channel, tracking_token_hash, created_at, updated_at) "
            "SELECT 'M/' || q.g, "
            "  CASE WHEN x < 0.05 THEN 'new' WHEN x < 0.10 THEN 'forwarded' "
            "       WHEN x < 0.15 THEN 'in_progress' WHEN x < 0.80 THEN 'resolved' "
            "       WHEN x < 0.92 THEN 'closed' ELSE 'rejected' END, "
            "  (%(mains)s::int[])[1 + q.g %% cardinality(%(mains)s::int[])], 'Zgłoszenie ' || q.g, 2, "
            "  'ul. Testowa ' || (q.g %% 997), (%(names)s::text[])[1 + p.d], "
            "  CASE WHEN q.g %% 10 <> 0 THEN p.lat END, CASE WHEN q.g %% 10 <> 0 THEN p.lon END, "
            "  'portal', md5(q.g::text) || md5('t' || q.g), t, t "
            "FROM (SELECT g, random() AS x, %(start)s::timestamptz + random() * interval '365 days' AS t "
            "      FROM generate_series(1, %(n)s) g) q "
            "JOIN bench_pick k ON k.g = q.g "
            "JOIN bench_points p ON p.d = k.d AND p.k = q.g %% %(pool)s "
            # As the CRM writes them: a case's row is added when it is reported, so a month's
            # cases lie together on disk (random order would make every month touch every page).
            "ORDER BY q.t",
            {"n": cases, "mains": mains, "names": districts, "start": YEAR_START, "pool": POOL})
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.map_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=365_000)
    parser.add_argument("--samples", type=int, default=30)
    pg_scratch.add_options(parser)
    args = parser.parse_args(argv)
    def loaded(dsn: str) -> str:
        load(dsn, args.cases)
        return f"{args.cases:,} cases over a year"

    with pg_scratch.loaded_database(args, prefix="ckm_bench_map", demo=False,
                                    load=loaded) as (_, db):
        run(db, args.samples)
    return 0


def run(db: Database, samples: int) -> None:
    first = next(iter(geo.case_points(db, MONTH, limit=1).points), None)
    category = first.category if first else None
    filters: list[tuple[str, geo.MapFilter]] = [
        ("November's points", MONTH),
        (f"November, category {category}", geo.MapFilter(MONTH.since, MONTH.until, category=category)),
        ("November, status new", geo.MapFilter(MONTH.since, MONTH.until, status="new")),
    ]
    print("the API's answer two ways, timed in turns: rows read into Python and json.dumps "
          "(before) | points_json, PostgreSQL writing the points' JSON (now)")
    print(f"{'what':<36}{'points':>8}{'before p50/p99 ms':>20}{'now p50/p99 ms':>18}  "
          "target p99 ≤ 300 ms")
    for label, flt in filters:
        def before(flt: geo.MapFilter = flt) -> str:
            return json.dumps(geo.as_json(flt, geo.case_points(db, flt)), ensure_ascii=False)

        def now(flt: geo.MapFilter = flt) -> str:
            return geo.points_json(db, flt)

        assert json.loads(before()) == json.loads(now()), label  # the same answer
        took_before: list[float] = []
        took_now: list[float] = []
        for _ in range(samples):
            for fn, took in ((before, took_before), (now, took_now)):
                started = time.perf_counter()
                fn()
                took.append((time.perf_counter() - started) * 1000)
        points = len(json.loads(now())["points"])
        met = "met" if pct(took_now, 99) <= 300 else "NOT met"
        print(f"{label:<36}{points:>8,}{pct(took_before, 50):>10.1f}/{pct(took_before, 99):<9.1f}"
              f"{pct(took_now, 50):>8.1f}/{pct(took_now, 99):<9.1f} {met}", flush=True)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    raise SystemExit(main())
