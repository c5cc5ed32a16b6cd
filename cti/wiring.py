"""How `ckm run` plugs the ACD and the CTI hub in (`setup(app, center)`, see ckm/runner.py).

What it does:
- builds the Switchboard with crm_core behind the ports when `center.services["crm.db"]` is
  there (queues and seats, caller history, web sessions); without a CRM nobody can log in to
  the hub, and the ACD has no queues;
- mounts the hub at /cti/ws;
- boots in the background: queues from the CRM, then the snapshot file
  (`<data_dir>/acd-state.json`) so callers keep their places after a restart;
- appends every agent state change to `<data_dir>/agent-states.jsonl`;
- publishes `center.services["cti.switchboard"]`.

The pbx side connects both ways once its ACD adapter exists:
    board = center.services["cti.switchboard"]; board.attach_pbx(adapter); adapter.attach(board)
Commands issued before that are held and sent, in order, on `attach_pbx`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from cti.acd import Acd
from cti.cli import snapshot_path, state_log_path
from cti.hub import CtiHub
from cti.ports import Authenticator, HistoryProvider, Principal, QueueDirectory
from cti.switchboard import Switchboard

log = logging.getLogger(__name__)


class NobodyLogsIn:
    async def authenticate(self, credential: str) -> Principal | None:
        return None


def setup(app: web.Application, center: Any) -> Switchboard:
    db = center.services.get("crm.db")
    directory: QueueDirectory | None = None
    history: HistoryProvider | None = None
    auth: Authenticator = NobodyLogsIn()
    if db is not None:
        from cti.crm_link import CrmDirectory, CrmHistory, CrmSessions

        directory, history, auth = CrmDirectory(db), CrmHistory(db), CrmSessions(
            db, center.settings.session_idle_minutes)
    else:
        log.warning("no CRM database: the ACD has no queues and the CTI hub admits nobody")
    board = Switchboard(Acd(), directory=directory, history=history, bus=center.bus,
                        snapshot_path=snapshot_path(center.settings),
                        state_log_path=state_log_path(center.settings))
    hub = CtiHub(auth, board)
    board.attach(hub)
    hub.mount(app)
    center.services["cti.switchboard"] = board
    center.services["cti.hub"] = hub

    async def boot() -> None:
        try:
            log.info("ACD: %s", await board.boot())
        except Exception:
            log.exception("ACD boot failed; starting with no queues")
        await board.start()

    task = asyncio.get_running_loop().create_task(boot(), name="cti-boot")

    async def cleanup() -> None:
        if not task.done():
            task.cancel()
        await board.stop()
        await hub.close()

    center.cleanups.append(cleanup)
    return board
