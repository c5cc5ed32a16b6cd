"""ACD sub-commands of `ckm`: `ckm acd state` (who waits where, from the persisted snapshot),
`ckm acd history AGENT` (the agent's state changes) and `ckm acd queue NAME` (how a queue's
calls are handled). The routing benchmark is `ckm bench acd-routing` (bench/cli.py)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ground.settings import Settings

SNAPSHOT_FILE = "acd-state.json"
STATE_LOG_FILE = "agent-states.jsonl"


def snapshot_path(settings: Settings) -> Path:
    """Where the running switchboard keeps the ACD snapshot (restored on start)."""
    return settings.data_dir / SNAPSHOT_FILE


def state_log_path(settings: Settings) -> Path:
    """Where the running switchboard appends every agent state change (JSON lines)."""
    return settings.data_dir / STATE_LOG_FILE


def register(subparsers: Any) -> None:
    acd = subparsers.add_parser("acd", help="ACD: persisted queue state, queue handling")
    sub = acd.add_subparsers(dest="acd_command", metavar="ACTION", required=True)
    state = sub.add_parser("state", help="queues, waiting callers and agents from the snapshot")
    state.add_argument("--file", type=Path, default=None, help="snapshot file (default: "
                       f"<data_dir>/{SNAPSHOT_FILE})")
    state.add_argument("--json", action="store_true", help="print the raw snapshot")
    state.set_defaults(handler=_state)
    history = sub.add_parser("history", help="an agent's state changes (from the state log)")
    history.add_argument("agent")
    history.add_argument("--file", type=Path, default=None)
    history.add_argument("--last", type=int, default=50, help="how many (default 50)")
    history.set_defaults(handler=_history)
    queue = sub.add_parser("queue", help="show or change how a queue's calls are handled "
                                         "(read by the ACD when ckm run starts)")
    queue.add_argument("name")
    queue.add_argument("--wrapup", type=int, dest="wrapup_s", help="wrap-up seconds")
    queue.add_argument("--ring-timeout", type=int, dest="ring_timeout_s",
                       help="seconds a consultant's phone rings")
    queue.add_argument("--autopause", type=int, dest="autopause_after",
                       help="unanswered offers in a row before a consultant is paused (0: never)")
    queue.add_argument("--callback-attempts", type=int, dest="callback_attempts")
    queue.add_argument("--callback-retry", type=int, dest="callback_retry_s",
                       help="seconds between callback attempts")
    queue.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                       help="record the calls of this queue")
    queue.set_defaults(handler=_queue)


def _state(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file or snapshot_path(settings)
    if not path.is_file():
        print(f"no ACD snapshot at {path} (the controller has not run, or runs elsewhere)")
        return 1
    data = json.loads(path.read_text(encoding="utf-8"))
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    now = datetime.now(UTC)
    print(f"snapshot of {data.get('now')}")
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for entry in data.get("entries", []):
        by_queue.setdefault(entry["queue"], []).append(entry)
    for queue, entries in sorted(by_queue.items()):
        print(f"queue {queue}: {len(entries)} waiting")
        for pos, e in enumerate(entries, 1):
            waited = (now - datetime.fromisoformat(e["joined_at"])).total_seconds()
            kind = "callback" if e["callback"] else "caller"
            print(f"  {pos:3d}. {e['call_id']:<28} {kind:<8} {e['caller']['number']:<16} "
                  f"prio {e['priority']}  {waited:7.0f} s")
    for agent in data.get("agents", []):
        print(f"agent {agent['agent_id']:<16} {agent['status']:<10} {agent['reason']}")
    return 0


def _history(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file or state_log_path(settings)
    if not path.is_file():
        print(f"no agent state log at {path}")
        return 1
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
            if row.get("agent") == args.agent:
                rows.append(row)
    for row in rows[-args.last:]:
        call = f"  call {row['call_id']}" if row.get("call_id") else ""
        print(f"{row['at']}  {row['state']:<10} {row.get('reason', '')}{call}")
    return 0 if rows else 1


def _queue(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.db import Database
    from crm_core.errors import ValidationError
    from crm_core.services import contact_center as cc

    db = Database(settings.db_url)
    try:
        fields = {k: getattr(args, k) for k in cc.HANDLING_LIMITS}
        try:
            if any(v is not None for v in fields.values()) or args.record is not None:
                view = cc.configure_queue(db, args.name, record_calls=args.record, **fields)
                print(f"queue {args.name} changed; the ACD reads it when ckm run starts")
            else:
                view = cc.get_queue(db, args.name)
        except ValidationError as exc:
            for name, reason in exc.fields.items():
                print(f"ckm acd queue: {name}: {reason}")
            return 2
        except Exception as exc:  # NotFound and the like: say what, not a traceback
            print(f"ckm acd queue: {exc}")
            return 2
        print(f"{view.name} ({view.display_name}): wrap-up {view.wrapup_s} s, ring "
              f"{view.ring_timeout_s} s, auto-pause after {view.autopause_after or 'never'}, "
              f"callbacks {view.callback_attempts}× every {view.callback_retry_s} s, "
              f"recording {'on' if view.record_calls else 'off'}")
        return 0
    finally:
        db.dispose()
