"""`ckm asterisk ...`, `ckm call ...` and `ckm phones list`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ground.settings import Settings
from pbx import provision
from pbx.caller import LINGER_S, MAX_CALL_S


def register(sub: Any) -> None:
    ast = sub.add_parser("asterisk", help="provision and inspect the Asterisk ckm runs on")
    ast_sub = ast.add_subparsers(dest="asterisk_command", metavar="ACTION", required=True)
    for name, help_text in (
        ("up", "build (once) and start the sandbox, or check the system Asterisk"),
        ("down", "stop the sandbox Asterisk and unmount its proc"),
        ("status", "is Asterisk running, which version, how many calls"),
    ):
        p = ast_sub.add_parser(name, help=help_text)
        p.set_defaults(handler=_asterisk)
    p = ast_sub.add_parser("cli", help="run one Asterisk CLI command")
    p.add_argument("cli_command")
    p.set_defaults(handler=_asterisk)
    p = ast_sub.add_parser("logs", help="the last lines of Asterisk's log")
    p.add_argument("-n", "--lines", type=int, default=100)
    p.set_defaults(handler=_asterisk)

    call = sub.add_parser("call", help="place a scripted resident's call through Asterisk")
    call.add_argument("number", nargs="?", default="19115",
                      help="the number dialled (default 19115)")
    call.add_argument("--caller-id", default="+48600100200",
                      help="the resident's number (default +48600100200)")
    call.add_argument("--name", default="Jan Kowalski", help="the resident's name")
    call.add_argument("--dtmf", default="",
                      help='keys, comma-separated: "1,2"; "wS" waits S seconds before the '
                           'next key (default 0.5), counted from 1 s after the answer: '
                           '"w14,1,w3,3"')
    call.add_argument("--say", action="append", default=[], metavar="FILE.wav[@N]",
                      help="audio the resident plays after the keys, or once the center's "
                           "N-th prompt has finished; repeatable")
    call.add_argument("--hangup-after", type=float, default=None, metavar="S",
                      help="hang up S seconds after the answer; default: "
                           f"{LINGER_S:.0f} s after the last --dtmf/--say step (after the "
                           f"answer when there is none), at most {MAX_CALL_S:.0f} s; always "
                           "as soon as the center hangs up")
    call.add_argument("--wait-answer", type=float, default=10.0, metavar="S",
                      help="give up when the center has not answered in S seconds "
                           "(default 10)")
    call.add_argument("--json", action="store_true",
                      help="print the summary as JSON (prompts with text and language, IVR "
                           "steps, queue, consultant)")
    call.set_defaults(handler=_call)

    phones = sub.add_parser("phones", help="consultants' desk SIP phones (provisioning)")
    phones_sub = phones.add_subparsers(dest="phones_command", metavar="ACTION", required=True)
    p = phones_sub.add_parser("list", help="every desk phone: SIP user, password, registrar, "
                              "the CRM user whose extension it is, and whether it is registered")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(handler=_phones)


def _asterisk(args: argparse.Namespace, settings: Settings) -> int:
    target = provision.select(settings)
    try:
        match args.asterisk_command:
            case "up":
                status = target.up(settings.data_dir / "logs")
                print(f"asterisk {status.mode}: {status.version or 'running'} ({status.detail})")
                print(f"ARI: {settings.ari_base} (user {settings.ari_user}, app {settings.ari_app})")
            case "down":
                if isinstance(target, provision.Sandbox):
                    how = target.down(say=lambda m: print(f"ckm: {m}", flush=True))
                    escalated = {"sigterm": " (after SIGTERM)", "sigkill": " (killed)"}
                    print(f"asterisk sandbox: stopped{escalated.get(how, '')}")
                else:
                    target.down()
                    print(f"asterisk {target.status().mode}: stopped")
            case "status":
                status = target.status()
                state = "running" if status.running else "not running"
                print(f"asterisk {status.mode}: {state}; {status.version} {status.detail}".strip())
                return 0 if status.running else 3
            case "cli":
                print(target.cli(args.cli_command), end="")
            case "logs":
                print(target.logs(args.lines))
    except provision.ProvisionError as exc:
        print(f"ckm asterisk {args.asterisk_command}: {exc}", file=sys.stderr)
        return 1
    return 0


def _call(args: argparse.Namespace, settings: Settings) -> int:
    from pbx import caller

    try:
        plan = caller.CallPlan.from_args(
            number=args.number, caller_id=args.caller_id, name=args.name, dtmf=args.dtmf,
            say=args.say, hangup_after=args.hangup_after, wait_answer=args.wait_answer,
        )
    except ValueError as exc:
        print(f"ckm call: {exc}", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(caller.place_call(settings, plan))
    except caller.CallerError as exc:
        print(f"ckm call: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(summary.describe())
    return 0 if summary.answered else 1


def _extension_holders(settings: Settings) -> dict[str, str]:
    """CRM users by extension; empty when the CRM cannot be read (the list still prints)."""
    try:
        from crm_core.db import Database
        from crm_core.services.users import list_users

        db = Database(settings.db_url)
        try:
            return {u.extension: u.username for u in list_users(db) if u.extension}
        finally:
            db.dispose()
    except Exception:  # no database yet, not migrated: the phones are still worth printing
        return {}


def _registered(settings: Settings) -> dict[str, bool] | None:
    """Which PJSIP endpoints have a registered phone (ARI: state "online"); None when ARI
    does not answer (Asterisk down): the list still prints, "?" for each."""
    from pbx.ari_client import AriClient, AriError, AriUnavailable

    async def fetch() -> dict[str, bool]:
        client = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                           settings.ari_app)
        try:
            found = await client.request("GET", "/endpoints/PJSIP", timeout=3)
        finally:
            await client.stop()
        return {e["resource"]: e.get("state") == "online" for e in found or []}

    try:
        return asyncio.run(fetch())
    except (AriError, AriUnavailable):
        return None


def _phones(args: argparse.Namespace, settings: Settings) -> int:
    from ground.phones import desk_phones, registrar, tls_registrar
    from ground.settings import SettingsError

    try:
        phones = desk_phones(settings)
    except SettingsError as exc:
        print(f"ckm phones list: {exc}", file=sys.stderr)
        return 2
    holders = _extension_holders(settings)
    online = _registered(settings)
    rows = [{"extension": p.user, "user": p.user, "password": p.password,
             "registrar": registrar(settings), "transport": "udp",
             "tls_registrar": tls_registrar(settings),
             "consultant": holders.get(p.user, ""),
             "registered": None if online is None else online.get(p.user, False)}
            for p in phones]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"desk SIP phones: register as <user>@{registrar(settings)} over UDP, G.711 (PCMU/PCMA),"
          " DTMF RFC 4733; a consultant is rung on the phone whose extension the CRM gives them")
    if tls_registrar(settings):
        print(f"or over TLS: <user>@{tls_registrar(settings)};transport=tls (the server presents "
              f"tls_cert {settings.tls_cert}; give the phone its CA)")
    print(f"{'user':<10} {'password':<26} {'registrar':<22} {'registered':<11} consultant")
    for row in rows:
        state = "?" if row["registered"] is None else "yes" if row["registered"] else "no"
        print(f"{row['user']:<10} {row['password']:<26} {row['registrar']:<22} {state:<11} "
              f"{row['consultant'] or '-'}")
    return 0
