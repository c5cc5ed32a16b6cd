"""The scratch PostgreSQL database a benchmark loads its history into.

    parser = argparse.ArgumentParser(...)
    pg_scratch.add_options(parser)
    args = parser.parse_args(argv)
    with pg_scratch.loaded_database(args, prefix="ckm_bench_map", demo=False,
                                    load=lambda dsn: load(dsn, ...)) as (scratch, db):
        ...  # time what the benchmark times on `db`

Rules:
- Without --database a new database named prefix_<8 hex> is created on --pg's server and
  dropped at the end (WITH (FORCE): a benchmark that failed half-way may still hold a
  connection), unless --keep; the name is printed when it is kept, so it can be reused.
- With --database NAME an existing database (one kept before) is used as it is, never loaded
  (`fresh` is False) and never dropped.
- `loaded_database` is the same database with the CRM on it: a fresh one migrated, seeded and
  loaded by the benchmark's `load(dsn)` (which says what it loaded; the time is printed), a
  reused one as it is; its `Database` is disposed at the end.
- `dsn` is the libpq conninfo for psycopg, `url` the same database for SQLAlchemy
  (postgresql+psycopg), both built from --pg's conninfo so a different host, port or user
  reaches both.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from crm_core.db import Database, migrate
from crm_core.seed import seed

DEFAULT_PG = "host=127.0.0.1 port=5432 user=postgres"


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    dsn: str
    url: str
    fresh: bool  # created now: empty, the benchmark loads it


def add_options(parser: argparse.ArgumentParser) -> None:
    """--pg, --keep and --database, as every benchmark on PostgreSQL takes them."""
    parser.add_argument("--pg", default=DEFAULT_PG, help="libpq conninfo of the server")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="reuse a database kept by --keep (skips loading)")


def _url(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return (f"postgresql+psycopg://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}"
            f":{info.get('port', 5432)}/{info['dbname']}")


@contextmanager
def scratch_database(args: argparse.Namespace, *, prefix: str) -> Iterator[ScratchDatabase]:
    """Creates (or reuses, with --database) the benchmark's database; drops a created one at
    the end unless --keep."""
    pg: str = args.pg
    reused: str | None = args.database
    name = reused or f"{prefix}_{uuid.uuid4().hex[:8]}"
    if not reused:
        with psycopg.connect(f"{pg} dbname=postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = f"{pg} dbname={name}"
    try:
        yield ScratchDatabase(name, dsn, _url(dsn), fresh=not reused)
    finally:
        if reused:
            pass
        elif args.keep:
            print(f"kept database {name} (reuse it with --database {name})", flush=True)
        else:
            with psycopg.connect(f"{pg} dbname=postgres", autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                              .format(sql.Identifier(name)))


@contextmanager
def loaded_database(args: argparse.Namespace, *, prefix: str, demo: bool,
                    load: Callable[[str], str]) -> Iterator[tuple[ScratchDatabase, Database]]:
    """`scratch_database` with the CRM on it: a fresh database is migrated, seeded (`demo`:
    with the demo staff) and loaded by `load(dsn)`, which returns what it loaded for the
    printed line."""
    with scratch_database(args, prefix=prefix) as scratch:
        db = Database(scratch.url, pool_size=2)
        try:
            if scratch.fresh:
                started = time.perf_counter()
                migrate(scratch.url)
                seed(db, demo=demo)
                what = load(scratch.dsn)
                print(f"database {scratch.name}: {what} loaded in "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
            yield scratch, db
        finally:
            db.dispose()
