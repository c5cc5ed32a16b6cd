"""CRM sub-commands of `ckm`: `ckm db migrate|info|downgrade|outbox`, `ckm seed [--demo]`,
`ckm users add|passwd|disable|enable|list|dept add|remove|list`,
`ckm dept sla|sla-set|share-contact`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

import sqlalchemy as sa

from crm_core import db as crm_db
from crm_core.outbox import Journal, journal_path, replay
from ground.settings import Settings


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
    seed = subparsers.add_parser(
        "seed", help="migrate, then load reference data (no accounts; --demo adds the demo ones)")
    seed.add_argument("--demo", action="store_true",
                      help="also the demo accounts, all with the public password demo19115")
    seed.set_defaults(handler=_seed)
    _register_users(subparsers)
    _register_departments(subparsers)


def _register_departments(subparsers: Any) -> None:
    cmd = subparsers.add_parser("dept", help="departments: deadlines (SLA) per category, "
                                "whether staff see residents' contacts")
    sub = cmd.add_subparsers(dest="dept_command", metavar="ACTION", required=True)
    sla_list = sub.add_parser("sla", help="every deadline rule: category, district, working hours")
    sla_list.set_defaults(handler=_dept_sla)
    sla_set = sub.add_parser("sla-set", help="set the working hours for CATEGORY (a code such as "
                             "roads.pothole), city-wide or in one --district")
    sla_set.add_argument("category")
    sla_set.add_argument("hours", type=int)
    sla_set.add_argument("--district")
    sla_set.set_defaults(handler=_dept_sla_set)
    share = sub.add_parser("share-contact", help="whether DEPT's staff see the resident's name, "
                           "phone and e-mail on a case")
    share.add_argument("department")
    share.add_argument("share", choices=("on", "off"))
    share.set_defaults(handler=_dept_share)
    from crm_core.forwarding_cli import register_dept

    register_dept(sub)  # ckm dept forward | forwards | forwards-retry


def _register_users(subparsers: Any) -> None:
    from crm_core.services.users import ROLES

    cmd = subparsers.add_parser("users", help="the center's accounts: add, passwd, disable, list")
    sub = cmd.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", help="full name (default: the username)")
    add.add_argument("--extension", help="the extension the ACD rings: a browser softphone "
                     "(softphone_extensions, e.g. 1004) or a desk SIP phone (desk_phone_extensions, "
                     "e.g. 2004)")
    how = add.add_mutually_exclusive_group()
    how.add_argument("--password", help="the password (visible in the shell history: prefer "
                     "the prompt or --generate)")
    how.add_argument("--generate", action="store_true",
                     help="generate a password and print it once")
    add.set_defaults(handler=_users_add)
    passwd = sub.add_parser("passwd", help="set a new password; the user's sessions end")
    passwd.add_argument("username")
    how = passwd.add_mutually_exclusive_group()
    how.add_argument("--password")
    how.add_argument("--generate", action="store_true")
    passwd.set_defaults(handler=_users_passwd)
    for name, active in (("disable", False), ("enable", True)):
        p = sub.add_parser(name, help=f"{name} an account" + ("; its sessions end" if not active
                                                               else ""))
        p.add_argument("username")
        p.set_defaults(handler=_users_active, active=active)
    listing = sub.add_parser("list", help="every account, its role and whether it is active")
    listing.add_argument("--role", choices=ROLES)
    listing.set_defaults(handler=_users_list)
    dept = sub.add_parser("dept", help="the departments a department staff member works for "
                          "(the /dept workspace)")
    dept_sub = dept.add_subparsers(dest="dept_command", metavar="ACTION", required=True)
    dept_add = dept_sub.add_parser("add", help="add USER to department DEPT (its code, e.g. ZDM)")
    dept_add.add_argument("username")
    dept_add.add_argument("department")
    dept_add.add_argument("--head", action="store_true",
                          help="the department's head: overdue cases escalate to them first")
    dept_add.set_defaults(handler=_users_dept_add)
    dept_remove = dept_sub.add_parser("remove", help="take USER out of department DEPT")
    dept_remove.add_argument("username")
    dept_remove.add_argument("department")
    dept_remove.set_defaults(handler=_users_dept_remove)
    dept_list = dept_sub.add_parser("list", help="the departments of USER")
    dept_list.add_argument("username")
    dept_list.set_defaults(handler=_users_dept_list)


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
        print(seed(database, demo=args.demo))
    finally:
        database.dispose()
    return 0


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password, and whether it was generated (then it is printed once)."""
    from crm_core.services.users import generate_password, password_problem

    if args.generate:
        return generate_password(), True
    if args.password is not None:
        return str(args.password), False
    if not sys.stdin.isatty():  # a script piping the password in
        return sys.stdin.readline().rstrip("\n"), False
    while True:
        first = getpass.getpass(f"new password for {args.username}: ")
        if not first:
            return generate_password(), True
        problem = password_problem(first, args.username)
        if problem:
            print(f"password: {problem}", file=sys.stderr)
            continue
        if getpass.getpass("again: ") == first:
            return first, False
        print("the two passwords differ", file=sys.stderr)


def _users_db(settings: Settings) -> crm_db.Database:
    crm_db.migrate(settings.db_url)
    return crm_db.Database(settings.db_url)


def _refused(exc: Exception) -> int:
    from crm_core.errors import ValidationError

    if isinstance(exc, ValidationError):
        for name, message in exc.fields.items():
            print(f"ckm users: {name}: {message}", file=sys.stderr)
    else:
        print(f"ckm users: {exc}", file=sys.stderr)
    return 1


def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import users

    password, generated = _password(args)
    database = _users_db(settings)
    try:
        view = users.create_user(database, username=args.username, role=args.role,
                                 full_name=args.name or args.username, password=password,
                                 extension=args.extension)
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    print(f"created {view.username} ({view.role})")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import users

    password, generated = _password(args)
    database = _users_db(settings)
    try:
        ended = users.set_password(database, args.username, password)
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    print(f"password of {args.username} changed; {ended} session(s) ended")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _users_active(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import users

    database = _users_db(settings)
    try:
        users.set_active(database, args.username, args.active)
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    print(f"{args.username} {'enabled' if args.active else 'disabled; its sessions ended'}")
    return 0


def _users_list(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.services import users

    database = _users_db(settings)
    try:
        found = users.list_users(database, args.role)
    finally:
        database.dispose()
    print(f"{'username':<20}{'role':<18}{'ext':<8}{'active':<8}name")
    for u in found:
        print(f"{u.username:<20}{u.role:<18}{u.extension or '-':<8}"
              f"{'yes' if u.is_active else 'no':<8}{u.full_name}")
    return 0


def _users_dept_add(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import department

    database = _users_db(settings)
    try:
        found = department.add_member(database, args.username, args.department, head=args.head)
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    print(f"{args.username} works for {found.department}" + (" (head)" if found.is_head else ""))
    return 0


def _users_dept_remove(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import department

    database = _users_db(settings)
    try:
        removed = department.remove_member(database, args.username, args.department)
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    print(f"{args.username} {'removed from' if removed else 'was not in'} {args.department}")
    return 0


def _users_dept_list(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import department

    database = _users_db(settings)
    try:
        found = department.memberships(database, args.username)
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    for m in found:
        print(f"{m.department:<14}{'head' if m.is_head else '':<6}{m.name}")
    return 0


def _dept_sla(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.services import sla

    database = _users_db(settings)
    try:
        rules = sla.list_sla_rules(database)
    finally:
        database.dispose()
    print(f"{'category':<28}{'district':<18}working hours")
    for category, district, hours in rules:
        print(f"{category:<28}{district or '(city-wide)':<18}{hours}")
    return 0


def _dept_sla_set(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import sla

    database = _users_db(settings)
    try:
        sla.set_sla_rule(database, args.category, args.hours, args.district)
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    print(f"{args.category} {args.district or '(city-wide)'}: {args.hours} working hours "
          "(cases forwarded from now on)")
    return 0


def _dept_share(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.errors import CrmError
    from crm_core.services import department

    database = _users_db(settings)
    try:
        department.set_share_contact(database, args.department, args.share == "on")
    except CrmError as exc:
        return _refused(exc)
    finally:
        database.dispose()
    print(f"{args.department}: residents' contacts {'shown' if args.share == 'on' else 'hidden'}")
    return 0
