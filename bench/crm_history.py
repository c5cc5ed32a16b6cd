"""CRM at city scale: load a history into PostgreSQL, then time what the center leans on.

    python -m bench.crm_history [--residents 200000 --interactions 2000000 --cases 500000]

Prints: load time; p50/p99 of `caller_history` through the service (SQLAlchemy) and through
the same statement written directly in psycopg (one UNION ALL: resident, open cases, latest
interactions), timed side by side on the same callers, taking turns at going first, with their
ratio; KB search p50/p99;
outbox ingest (journal appends/s and events applied to PostgreSQL per second). Creates its
own database on 127.0.0.1:5432 and drops it afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench import pg_scratch
from crm_core.db import Database, migrate
from crm_core.outbox import Journal, OutboxWriter
from crm_core.search import kb_search
from crm_core.seed import seed
from crm_core.services.residents import (
    CallerHistory,
    InteractionSummary,
    OpenCaseSummary,
    ResidentView,
    caller_history,
)
from ground import events as ev

FIRST = [
    "Anna",
    "Piotr",
    "Maria",
    "Krzysztof",
    "Katarzyna",
    "Tomasz",
    "Małgorzata",
    "Paweł",
    "Agnieszka",
    "Michał",
    "Ewa",
    "Marcin",
    "Zofia",
    "Jakub",
    "Barbara",
    "Łukasz",
]
LAST = [
    "Nowak",
    "Kowalska",
    "Wiśniewski",
    "Wójcik",
    "Kamińska",
    "Lewandowski",
    "Zielińska",
    "Szymański",
    "Woźniak",
    "Dąbrowska",
    "Kozłowski",
    "Jankowska",
    "Mazur",
    "Krawczyk",
]
KB_QUERIES = [
    "śmieci",
    "smieci",
    "śmietnik",
    "wywóz gabarytów",
    "dziura w jezdni",
    "parkowanie",
    "abonament",
    "dzik",
    "bilety",
    "biletomat",
    "latarnia",
    "cisza nocna",
    "drzewo",
    "plac zabaw",
    "odszkodowanie",
    "azbest",
    "zgromadzenie",
    "status zgłoszenia",
    "odśnieżanie",
    "pies",
]

# The screen-pop statement written by hand: the resident with their open cases (part 0) and
# their latest interactions (part 1) in one UNION ALL sharing columns, exactly as
# crm_core.services.residents sends it (see the column layout there).
RAW_HISTORY = """
SELECT 0 AS part, r.id, r.name, r.preferred_language, r.consent_contact, r.consent_recording,
       c.id, c.number, c.status, cat.name, c.address, c.created_at AS ts, NULL
FROM resident_phones p
JOIN residents r ON r.id = p.resident_id
LEFT JOIN cases c ON c.resident_id = r.id AND c.status IN ('new', 'forwarded', 'in_progress')
LEFT JOIN categories cat ON cat.id = c.category_id
WHERE p.number = %(number)s
UNION ALL
SELECT 1, i.id, i.channel, i.queue, NULL, NULL, NULL, i.agent_username, i.disposition_code,
       i.subject, i.notes, i.started_at, i.ended_at
FROM (SELECT i.id, i.channel, i.queue, i.agent_username, i.disposition_code, i.subject,
             i.notes, i.started_at, i.ended_at
      FROM interactions i
      JOIN resident_phones p ON p.resident_id = i.resident_id
      WHERE p.number = %(number)s
      ORDER BY i.started_at DESC
      LIMIT %(limit)s) i
ORDER BY part, ts DESC
"""


def raw_caller_history(conn: psycopg.Connection[Any], number: str, limit: int = 10) -> CallerHistory:
    """The screen-pop query by hand: the same statement, the same result objects."""
    rows = conn.execute(RAW_HISTORY, {"number": number, "limit": limit}).fetchall()
    if not rows:
        return CallerHistory(number, None, (), ())
    f = rows[0]
    resident = ResidentView(f[1], f[2], f[3], f[4], f[5], (number,))
    cases = tuple(OpenCaseSummary(*r[6:12]) for r in rows if r[0] == 0 and r[6] is not None)
    interactions = tuple(
        InteractionSummary(r[1], r[2], r[11], r[12], r[3], r[7], r[8], r[9], r[10]) for r in rows if r[0] == 1
    )
    return CallerHistory(number, resident, interactions, cases)


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fmt_ms(samples: list[float]) -> str:
    return f"p50 {pct(samples, 50) * 1e3:.3f} ms  p99 {pct(samples, 99) * 1e3:.3f} ms"


def load(dsn: str, residents: int, interactions: int, cases: int) -> None:
    rng = random.Random(19115)
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "COPY residents (id, name, preferred_language, consent_contact, "
                "consent_recording, created_at) FROM STDIN"
            ) as copy:
                created = datetime(2023, 1, 1, tzinfo=UTC)
                for i in range(1, residents + 1):
                    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if i % 3 else None
                    copy.write_row((i, name, "pl", i % 2 == 0, False, created))
            cur.execute("SELECT setval('residents_id_seq', %s)", (residents,))
            # Every resident one mobile number, one in five also a landline.
            cur.execute(
                "INSERT INTO resident_phones (resident_id, number, created_at) "
                "SELECT g, '+48' || (500000000 + g), now() FROM generate_series(1, %(n)s) g "
                "UNION ALL SELECT g, '+4822' || lpad(g::text, 7, '0'), now() "
                "FROM generate_series(1, %(n)s) g WHERE g %% 5 = 0",
                {"n": residents},
            )
            cur.execute(
                "INSERT INTO interactions (channel, call_id, resident_id, caller_number, dialed, "
                " started_at, answered_at, ended_at, end_reason, queue, agent_username, wait_s, "
                " talk_s, disposition_code, notes) "
                "SELECT CASE WHEN g %% 10 < 8 THEN 'phone' WHEN g %% 10 = 8 THEN 'portal' "
                "            ELSE 'app' END, "
                "       CASE WHEN g %% 10 < 8 THEN 'bench.' || g END, r, "
                "       '+48' || (500000000 + r), '19115', t, t + interval '2 s', "
                "       t + interval '4 min', 'caller_hangup', "
                "       (ARRAY['ogolna','transport','drogi','czystosc','zwierzeta'])[1 + g %% 5], "
                "       'konsultant' || (1 + g %% 3), (g %% 90)::float, (60 + g %% 400)::float, "
                "       'info_given', 'Rozmowa nr ' || g "
                "FROM (SELECT g, 1 + floor(random() * %(r)s)::int AS r, "
                "             now() - random() * interval '1095 days' AS t "
                "      FROM generate_series(1, %(n)s) g) s",
                {"n": interactions, "r": residents},
            )
            cur.execute("SELECT id FROM categories WHERE parent_id IS NULL ORDER BY id")
            parents = [row[0] for row in cur.fetchall()]
            cur.execute(
                "INSERT INTO cases (number, status, category_id, description, priority, address, "
                " district, lat, lon, resident_id, source_channel, tracking_token_hash, "
                " created_at, updated_at) "
                "SELECT '19115/' || (2023 + g %% 4) || '/' || lpad((g / 4 + 1)::text, 6, '0'), "
                "       CASE WHEN x < 0.10 THEN 'new' WHEN x < 0.15 THEN 'forwarded' "
                "            WHEN x < 0.20 THEN 'in_progress' WHEN x < 0.75 THEN 'resolved' "
                "            WHEN x < 0.90 THEN 'closed' ELSE 'rejected' END, "
                "       (%(cats)s::int[])[1 + g %% cardinality(%(cats)s::int[])], "
                "       'Zgłoszenie nr ' || g, 2, 'ul. Testowa ' || (g %% 200), 'Wola', "
                "       52.15 + random() * 0.2, 20.85 + random() * 0.3, "
                "       CASE WHEN g %% 5 <> 0 THEN 1 + floor(random() * %(r)s)::int END, "
                "       'phone', md5(g::text) || md5('t' || g), t, t "
                "FROM (SELECT g, random() AS x, now() - random() * interval '1095 days' AS t "
                "      FROM generate_series(1, %(n)s) g) s",
                {"n": cases, "r": residents, "cats": parents},
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def bench_history(db: Database, dsn: str, samples: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        numbers = [
            r[0]
            for r in conn.execute("SELECT number FROM resident_phones ORDER BY random() LIMIT %s", (samples,))
        ]
        orm: list[float] = []
        raw: list[float] = []
        for number in numbers[:200]:  # warm caches and prepared statements on both paths
            caller_history(db, number)
            raw_caller_history(conn, number)
        paths: list[tuple[list[float], Callable[[str], CallerHistory]]] = [
            (orm, lambda n: caller_history(db, n)),
            (raw, lambda n: raw_caller_history(conn, n)),
        ]
        for i, number in enumerate(numbers):
            # Whichever path asks first for a caller pays the cold pages (their rows are not in
            # shared buffers yet) and the second finds them hot: the paths take turns going
            # first, so neither is measured on the other's warmed cache.
            seen = []
            for spent, path in paths if i % 2 == 0 else reversed(paths):
                t0 = time.perf_counter()
                seen.append(path(number))
                spent.append(time.perf_counter() - t0)
            assert seen[0] == seen[1], f"ORM and raw disagree for {number}"
    print(f"caller_history ORM   ({samples} callers): {fmt_ms(orm)}")
    print(f"caller_history psycopg                 : {fmt_ms(raw)}")
    print(
        f"ORM / raw ratio: p50 {pct(orm, 50) / pct(raw, 50):.2f}x  "
        f"p99 {pct(orm, 99) / pct(raw, 99):.2f}x  (target <= 1.5x; p99 target <= 5 ms)"
    )


def bench_kb(db: Database, rounds: int) -> None:
    times: list[float] = []
    for i in range(rounds):
        query = KB_QUERIES[i % len(KB_QUERIES)]
        t0 = time.perf_counter()
        kb_search(db, query)
        times.append(time.perf_counter() - t0)
    print(f"kb_search ({rounds} queries): {fmt_ms(times)}")


async def bench_outbox(db: Database, calls: int, residents: int) -> None:
    rng = random.Random(7)
    events: list[ev.DomainEvent] = []
    start = datetime.now(UTC)
    for c in range(calls):
        call_id = f"ob-{uuid.uuid4().hex[:12]}"
        caller = str(500000000 + rng.randint(1, residents))
        t = start + timedelta(seconds=c)
        events += [
            ev.CallStarted(call_id, t, caller, "", "19115", "PJSIP/trunk"),
            ev.CallAnswered(call_id, t + timedelta(seconds=1)),
            ev.IvrStep(
                call_id, t + timedelta(seconds=5), "glowne", "1", "menu", "dtmf", "2", None, "czystosc"
            ),
            ev.DtmfReceived(call_id, t + timedelta(seconds=5), "2"),
            ev.IvrStep(
                call_id,
                t + timedelta(seconds=9),
                "glowne",
                "1",
                "czystosc",
                "speech",
                "wywóz śmieci",
                0.9,
                "kolejka",
            ),
            ev.CallQueued(call_id, t + timedelta(seconds=10), "czystosc", "waste", 2),
            ev.CallOffered(call_id, t + timedelta(seconds=20), "czystosc", "konsultant2"),
            ev.AgentConnected(call_id, t + timedelta(seconds=22), "czystosc", "konsultant2", 12),
            ev.CallTransferred(call_id, t + timedelta(seconds=80), "ZDM"),
            ev.CallEnded(call_id, t + timedelta(seconds=90), "transferred_out"),
        ]
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "outbox.sqlite3")
        # 1. Ingest: what telephony waits for. Many calls publish at once, so appends are
        #    concurrent (as from many call sessions); each resolves once fsync'd.
        t0 = time.perf_counter()
        step = 500
        for i in range(0, len(events), step):
            await asyncio.gather(*(journal.append_async(e) for e in events[i : i + step]))
        t_ingest = time.perf_counter() - t0
        # 2. Drain: the writer applies the backlog to PostgreSQL.
        writer = OutboxWriter(journal, db, batch_size=1000)
        t0 = time.perf_counter()
        writer.start()
        await writer.flushed(timeout=900)
        t_drain = time.perf_counter() - t0
        await writer.stop()
        # 3. Both at once, as in `ckm run`: appends while the writer drains in the same process.
        more = [_renamed(e, "b") for e in events[: len(events) // 2]]
        writer = OutboxWriter(journal, db, batch_size=1000)
        writer.start()
        t0 = time.perf_counter()
        for i in range(0, len(more), step):
            await asyncio.gather(*(journal.append_async(e) for e in more[i : i + step]))
        t_mixed_ingest = time.perf_counter() - t0
        await writer.flushed(timeout=900)
        t_mixed = time.perf_counter() - t0
        await writer.stop()
        journal.close()
    n = len(events)
    print(
        f"outbox ingest: {n} call events ({calls} calls) journaled (fsync'd) in "
        f"{t_ingest:.2f}s = {n / t_ingest:,.0f} events/s (target >= 5000/s)"
    )
    print(f"outbox drain: applied to PostgreSQL in {t_drain:.2f}s = {n / t_drain:,.0f} events/s")
    print(
        f"outbox both at once: {len(more)} events journaled at "
        f"{len(more) / t_mixed_ingest:,.0f}/s while draining; all applied after "
        f"{t_mixed:.2f}s = {len(more) / t_mixed:,.0f} events/s"
    )


def _renamed(event: ev.DomainEvent, suffix: str) -> ev.DomainEvent:
    return dataclasses.replace(event, call_id=f"{event.call_id}{suffix}")


def timed(label: str, fn: Callable[[], object]) -> None:
    t0 = time.perf_counter()
    fn()
    print(f"{label}: {time.perf_counter() - t0:.1f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crm_history",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    parser.add_argument("--cases", type=int, default=500_000)
    parser.add_argument("--samples", type=int, default=5000, help="caller_history calls timed")
    parser.add_argument("--outbox-calls", type=int, default=5000, help="10 events per call")
    pg_scratch.add_options(parser)
    args = parser.parse_args(argv)
    with pg_scratch.scratch_database(args, prefix="ckm_bench") as scratch:
        db = Database(scratch.url, pool_size=4)
        try:
            print(
                f"database {scratch.name}: {args.residents:,} residents, {args.interactions:,} "
                f"interactions, {args.cases:,} cases"
            )
            if scratch.fresh:
                timed("migrate", lambda: migrate(scratch.url))
                timed("seed", lambda: seed(db, demo=True))
                timed(
                    "load (COPY + INSERT … SELECT, VACUUM ANALYZE)",
                    lambda: load(scratch.dsn, args.residents, args.interactions, args.cases),
                )
            bench_history(db, scratch.dsn, args.samples)
            bench_kb(db, 2000)
            asyncio.run(bench_outbox(db, args.outbox_calls, args.residents))
        finally:
            db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
