"""`ckm notifications list [--failed | --status S] [--case NUMBER] [--json]` and
`ckm notifications retry ID… | --failed`: the supervisors' view of the residents' outbox."""

from __future__ import annotations

import argparse
import json
from typing import Any

from crm_core.db import Database
from crm_core.errors import NotFound
from crm_core.models.notifications import NOTIFICATION_STATUSES
from crm_core.notifications import store
from ground.settings import Settings


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser("notifications", help="residents' e-mail/SMS notifications: list, retry")
    sub = cmd.add_subparsers(dest="notifications_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="newest first, with status, attempts and the last error")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--failed", action="store_const", const="failed", dest="status",
                       help="only those that failed for good (shorthand for --status failed)")
    which.add_argument("--status", choices=NOTIFICATION_STATUSES)
    listing.add_argument("--case", help="only this case's (its number, 19115/2026/000123)")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    retry = sub.add_parser("retry", help="put failed notifications back in line")
    retry.add_argument("ids", nargs="*", type=int)
    retry.add_argument("--failed", action="store_true", help="every failed notification")
    retry.set_defaults(handler=_retry)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.db_url)
    try:
        case_id = None
        if args.case:
            from crm_core.services.cases import get_case_by_number

            try:
                case_id = get_case_by_number(db, args.case).id
            except NotFound:
                print(f"no case {args.case}")
                return 1
        rows = store.list_notifications(db, status=args.status, case_id=case_id, limit=args.limit)
        totals = store.counts(db)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps({"counts": totals, "notifications": [
            {"id": r.id, "case": r.case_number, "kind": r.kind, "channel": r.channel, "to": r.to,
             "language": r.language, "status": r.status, "attempts": r.attempts,
             "last_error": r.last_error, "created_at": r.created_at.isoformat(),
             "next_attempt_at": r.next_attempt_at.isoformat(),
             "sent_at": r.sent_at.isoformat() if r.sent_at else None} for r in rows]},
            ensure_ascii=False, indent=2))
        return 0
    print("  ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "no notifications")
    for r in rows:
        when = (r.sent_at or r.next_attempt_at).strftime("%Y-%m-%d %H:%M:%S")
        error = f"  {r.last_error}" if r.last_error and r.status != "sent" else ""
        print(f"{r.id:>7}  {r.case_number}  {r.kind:<9} {r.channel:<5} {r.to:<28} {r.status:<7} "
              f"x{r.attempts}  {when}{error}")
    return 0


def _retry(args: argparse.Namespace, settings: Settings) -> int:
    if not args.ids and not args.failed:
        print("name notification ids, or --failed for all")
        return 2
    db = Database(settings.db_url)
    try:
        n = store.retry(db, args.ids, all_failed=args.failed)
    finally:
        db.dispose()
    print(f"{n} notification(s) back in line")
    return 0
