"""`ckm open311 keys create|list|revoke`: API keys for the mobile app and other Open311 clients."""

from __future__ import annotations

import argparse
from typing import Any

from crm_core.db import Database, migrate
from crm_core.errors import CrmError
from crm_core.services.contact_center import create_api_key, revoke_api_key
from ground.settings import Settings
from portal.keys import list_keys


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser("open311", help="Open311 GeoReport v2 API administration")
    sub = cmd.add_subparsers(dest="open311_command", metavar="WHAT", required=True)
    keys = sub.add_parser("keys", help="API keys")
    actions = keys.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key (printed once, stored hashed)")
    create.add_argument("--owner", required=True, help="who uses it, e.g. 'Aplikacja Warszawa 19115'")
    create.add_argument("--rate", type=int, default=60, help="requests a minute allowed (default 60)")
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="list keys (prefix, owner, rate)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(handler=_revoke)


def _db(settings: Settings) -> Database:
    migrate(settings.db_url)
    return Database(settings.db_url)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    db = _db(settings)
    try:
        view, key = create_api_key(db, args.owner, rate_limit_per_min=args.rate)
    except CrmError as exc:
        print(f"error: {exc}")
        return 2
    finally:
        db.dispose()
    print(f"key for {view.owner} ({view.rate_limit_per_min}/min), shown once:\n{key}")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    db = _db(settings)
    try:
        keys = list_keys(db, include_revoked=args.all)
    finally:
        db.dispose()
    for k in keys:
        revoked = f"  revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        print(f"{k.prefix}  {k.rate_limit_per_min:>5}/min  {k.created_at:%Y-%m-%d}  {k.owner}{revoked}")
    if not keys:
        print("no keys")
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    db = _db(settings)
    try:
        revoke_api_key(db, args.prefix)
    except CrmError as exc:
        print(f"error: {exc}")
        return 1
    finally:
        db.dispose()
    print(f"revoked {args.prefix}")
    return 0
