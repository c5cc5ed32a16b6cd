"""`ckm dept forward DEPT open311 URL --api-key K [--service-code-map ours=theirs,…] | email
ADDRESS | none`, `ckm dept forwards [--failed] [--json]`, `ckm dept forwards-retry [ID…]`, and
`ckm mail quarantine [--all] [--json]`: forwarding beyond ckm and the inbound mail."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crm_core.db import Database
from crm_core.errors import CrmError, ValidationError
from crm_core.forwarding import inbound
from crm_core.services import forwarding
from ground.settings import Settings


def register_dept(sub: Any) -> None:
    """Sub-commands of `ckm dept` (crm_core.cli)."""
    forward = sub.add_parser("forward", help="how DEPT receives its cases beyond /dept: open311 URL "
                             "(its own GeoReport v2 server), email ADDRESS, or none")
    forward.add_argument("department")
    forward.add_argument("channel", choices=forwarding.CHANNELS)
    forward.add_argument("target", nargs="?", help="open311: the endpoint URL (…/open311/v2); "
                         "email: the address")
    forward.add_argument("--api-key", help="open311: the key the department's server gave ckm")
    forward.add_argument("--service-code-map", default=None,
                         help="open311: ours=theirs pairs, comma-separated (unlisted codes go as they are)")
    forward.set_defaults(handler=_forward)
    listing = sub.add_parser("forwards", help="cases sent to departments' own systems: delivery, "
                             "remote id and status, last error")
    listing.add_argument("--failed", action="store_const", const="failed", dest="status")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_forwards)
    retry = sub.add_parser("forwards-retry", help="put failed forwards back in line (all, or IDs)")
    retry.add_argument("ids", nargs="*", type=int)
    retry.set_defaults(handler=_forwards_retry)


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser("mail", help="inbound e-mail: the quarantine")
    sub = cmd.add_subparsers(dest="mail_command", metavar="ACTION", required=True)
    quarantine = sub.add_parser("quarantine", help="e-mail not attached to any case (unknown sender, "
                                "a forged or missing case tag), newest first")
    quarantine.add_argument("--all", action="store_true", help="every received e-mail, filed or not")
    quarantine.add_argument("--limit", type=int, default=50)
    quarantine.add_argument("--json", action="store_true")
    quarantine.set_defaults(handler=_quarantine)


def _forward(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.db_url)
    try:
        done = forwarding.configure(db, args.department, args.channel, args.target,
                                    api_key=args.api_key, service_codes=args.service_code_map)
    except ValidationError as exc:
        for name, message in exc.fields.items():
            print(f"ckm dept forward: {name}: {message}", file=sys.stderr)
        return 2
    except CrmError as exc:
        print(f"ckm dept forward: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    if done.channel == "none":
        print(f"{done.department}: cases stay in /dept only")
    elif done.channel == "open311":
        mapped = f", service codes {done.service_codes}" if done.service_codes else ""
        print(f"{done.department}: cases forwarded by Open311 to {done.target}{mapped}")
    else:
        print(f"{done.department}: cases forwarded by e-mail to {done.target}")
    return 0


def _forwards(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.db_url)
    try:
        rows = forwarding.list_forwards(db, status=args.status, limit=args.limit)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps([{**r.__dict__, **{k: v.isoformat() for k, v in r.__dict__.items()
                                             if hasattr(v, "isoformat")}} for r in rows],
                         ensure_ascii=False, indent=2))
        return 0
    print(f"{'id':>5}  {'case':<20}{'dept':<8}{'channel':<9}{'status':<9}{'tries':>5}  "
          "remote / last error")
    for r in rows:
        remote = (f"{r.remote_id or '-'} {r.remote_status or ''}".strip() if r.channel == "open311"
                  else r.target)
        error = r.last_error or r.poll_error
        print(f"{r.id:>5}  {r.case_number:<20}{r.department:<8}{r.channel:<9}{r.status:<9}"
              f"{r.attempts:>5}  {remote}{f'  ({error})' if error else ''}")
    return 0


def _forwards_retry(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.db_url)
    try:
        n = forwarding.retry_failed(db, args.ids or None)
    finally:
        db.dispose()
    print(f"{n} forward(s) back in line")
    return 0


def _quarantine(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.db_url)
    try:
        rows = inbound.list_inbound(db, outcome=None if args.all else "quarantined", limit=args.limit)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps([{**r.__dict__, "received_at": r.received_at.isoformat()} for r in rows],
                         ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("nothing in quarantine" if not args.all else "no e-mail received")
    for r in rows:
        where = f" case {r.case_number}" if r.case_number else ""
        print(f"{r.id:>5}  {r.received_at:%Y-%m-%d %H:%M}  {r.outcome:<16}{r.mail_from}{where}")
        print(f"       {r.subject!r}: {r.reason or r.excerpt}")
    return 0
