"""CRM sub-commands of `ckm`: `ckm db migrate|info|downgrade|outbox`, `ckm seed`."""

from __future__ import annotations

import argparse
from typing import Any

import sqlalchemy as sa

from ckm.settings import Settings
from crm_core import db as crm_db
from crm_core.outbox import Journal, journal_path, replay


def register(subparsers: Any) -> None:
    db_cmd = subparsers.add_parser("db", help="CRM database: migrations, status, outbox")
    db_sub = db_cmd.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_sub.add_parser("migrate", help="upgrade the CRM schema to the newest version")
    migrate.set_defaults(handler=_migrate)
    down = db_sub.add_parser("downgrade", help="downgrade the CRM schema (default: to empty)")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(handler=_downgrade)
    info = db_sub.add_parser("info", help="database URL, schema version, row counts, outbox")
    info.set_defaults(handler=_info)
    flush = db_sub.add_parser("outbox-flush", help="apply pending outbox events now")
    flush.set_defaults(handler=_outbox_flush)
    writer = db_sub.add_parser(
        "outbox-writer", help="apply the outbox journal continuously (a separate process)"
    )
    writer.set_defaults(handler=_outbox_writer)
    seed = subparsers.add_parser("seed", help="migrate, then load reference data and demo users")
    seed.set_defaults(handler=_seed)


def _masked(url: str) -> str:
    return sa.make_url(crm_db.normalize_url(url)).render_as_string(hide_password=True)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    crm_db.migrate(settings.db_url)
    print(f"CRM schema at {crm_db.current_revision(settings.db_url)} ({_masked(settings.db_url)})")
    return 0


def _downgrade(args: argparse.Namespace, settings: Settings) -> int:
    crm_db.downgrade(settings.db_url, args.revision)
    print(f"CRM schema at {crm_db.current_revision(settings.db_url) or 'base (empty)'}")
    return 0


def _info(args: argparse.Namespace, settings: Settings) -> int:
    print(f"database: {_masked(settings.db_url)}")
    revision = crm_db.current_revision(settings.db_url)
    print(f"schema:   {revision or 'empty (run `ckm db migrate`)'}")
    if revision:
        database = crm_db.Database(settings.db_url)
        try:
            with database.engine.connect() as conn:
                for table in ("residents", "interactions", "cases", "kb_articles", "users"):
                    count = conn.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
                    print(f"  {table:<14}{count}")
        finally:
            database.dispose()
    path = journal_path(settings.data_dir)
    if path.exists():
        journal = Journal(path)
        try:
            print(
                f"outbox:   {journal.pending_count()} pending, "
                f"{len(journal.failed_entries())} set aside ({path})"
            )
        finally:
            journal.close()
    return 0


def _outbox_flush(args: argparse.Namespace, settings: Settings) -> int:
    journal = Journal(journal_path(settings.data_dir))
    database = crm_db.Database(settings.db_url)
    try:
        print(f"applied {replay(journal, database)} outbox entries")
    finally:
        journal.close()
        database.dispose()
    return 0


def _outbox_writer(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from crm_core.outbox import OutboxWriter

    journal = Journal(journal_path(settings.data_dir))
    database = crm_db.Database(settings.db_url)
    try:
        asyncio.run(OutboxWriter(journal, database).run())
    finally:
        journal.close()
        database.dispose()
    return 0


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.seed import seed

    crm_db.migrate(settings.db_url)
    database = crm_db.Database(settings.db_url)
    try:
        print(seed(database))
    finally:
        database.dispose()
    return 0
