"""A whole center in the test's event loop, on the real Asterisk, with a seeded CRM of its own.

Shared by the ACD tests: the CRM is a fresh SQLite file per test (migrated and seeded), the
controller and the ACD run in-process, and the web app (CTI hub, desktop) can be served on a
free port for websocket clients.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from ckm.assembly import Center, assemble
from ckm.runner import build_web
from crm_core.db import Database, migrate
from crm_core.seed import seed
from cti import events as ce
from ground import events as domain
from ground.bus import EventBus
from ground.settings import Settings
from pbx.ari_client import AriClient, AriError, new_id
from pbx.controller import Controller
from pbx.crm_lookup import CrmLookup
from tests.polling import wait_until


class Recorder:
    def __init__(self) -> None:
        self.events: list[domain.DomainEvent] = []

    async def __call__(self, event: Any) -> None:
        self.events.append(event)

    def of(self, kind: type[domain.DomainEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def kinds(self, call_id: str) -> list[str]:
        return [e.kind for e in self.events if e.call_id == call_id]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def live_center(settings: Settings, data_dir: Path, *, web_port: int | None = None,
                      fresh_db: bool = True, database_url: str | None = None
                      ) -> AsyncIterator[tuple[Center, Recorder]]:
    """A center on the sandbox with its CRM on SQLite in data_dir, or on `database_url` (an
    empty database, migrated and seeded here when fresh_db)."""
    local = replace(settings, data_dir=data_dir,
                    database_url=database_url or f"sqlite:///{data_dir}/crm.db")
    if fresh_db:
        migrate(local.db_url)
        db = Database(local.db_url)
        seed(db, demo=True)
        db.dispose()
    bus = EventBus()
    recorder = Recorder()
    bus.subscribe("test", recorder)
    center = await assemble(local, bus, speech=False)
    center.extras["test.recorder"] = recorder
    center.controller = Controller(
        local, bus, ari=center.ari, library=center.library,
        prompts=center.prompts, lookup=CrmLookup(center.db),
        router=center.router)
    runner: web.AppRunner | None = None
    if web_port is not None:
        runner = web.AppRunner(build_web(center), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", web_port).start()
    await center.controller.start()
    assert await center.controller.ari.wait_connected(5), center.controller.ari.last_error
    try:
        yield center, recorder
    finally:
        if runner is not None:
            await runner.cleanup()
        await center.close()


async def log_in(center: Center, user: str, endpoint: str) -> None:
    switchboard = center.switchboard
    seat = await switchboard.directory.seat(user)
    assert seat is not None, f"{user} is not an agent in the seeded CRM"
    switchboard.feed(ce.AgentLoggedIn(at=switchboard.now(), profile=seat.profile,
                                      endpoint=endpoint))


def set_wrapup(center: Center, queue: str, seconds: float) -> None:
    switchboard = center.switchboard
    config = switchboard.acd.queues[queue]
    switchboard.feed(ce.QueueConfigured(switchboard.now(), replace(config, wrapup_s=seconds)))


RESIDENT_APP = "ckm-observer-resident"
# Legs of the calls placed by `call_into_queue`: the only channels a test may clean up (other
# sessions and a running center have their own calls on the same Asterisk).
PLACED: set[str] = set()


async def resident_phone(settings: Settings) -> AriClient:
    """An ARI app that owns the resident's half of test calls: it can press keys, speak (play
    into the call), listen and hang up, as a resident's phone would."""
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, RESIDENT_APP)
    await ari.start()
    assert await ari.wait_connected(5), ari.last_error
    return ari


async def call_into_queue(center: Center, phone: AriClient, settings: Settings,
                          caller_id: str) -> tuple[str, str]:
    """Call 19115 and press 0 until the IVR hands the call to the ACD. Returns the resident's
    leg (owned by `phone`) and the call's id (the center's leg)."""
    board = center.switchboard
    recorder = center.extras["test.recorder"]
    caller, call_id = new_id("resident"), new_id("resident-in")
    PLACED.update((caller, call_id))
    answered = phone.expect("StasisStart", caller)
    await phone.originate("Local/19115@inbound", channel_id=caller, other_channel_id=call_id,
                          app=phone.app, caller_id=caller_id, timeout=10,
                          variables={"_CKM_ROUTE_APP": settings.ari_app})
    await asyncio.wait_for(answered, 10)
    # The greeting, then the 112 notice; a 0 pressed in a menu reaches a consultant.
    for _ in range(30):
        if call_id in board.acd.entries or call_id in board.acd.calls:
            return caller, call_id
        try:
            await phone.send_dtmf(caller, "0")
        except AriError as exc:
            steps = [(e.kind, getattr(e, "node", ""), getattr(e, "input_value", ""))
                     for e in recorder.events if e.call_id == call_id]
            raise AssertionError(f"the call ended before it was queued: {exc}; {steps}") from None
        # The resident presses 0 again every 1.5 s, as a person would until something happens
        # (a key pressed while the greeting plays is no input there).
        await asyncio.sleep(1.5)
    raise AssertionError("the call never reached the queue")


async def crm_call(center: Center, call_id: str, ready: Callable[[Any], bool],
                   what: str, timeout: float = 15) -> Any:
    """The call's CRM interaction once `ready(view)` holds (the outbox writes shortly after
    the events); fails naming `what` was awaited."""
    from crm_core.errors import NotFound
    from crm_core.services import interactions

    db = center.db
    seen: list[Any] = [None]

    async def ready_view() -> Any:
        await center.bus.drain()
        try:
            seen[0] = await asyncio.to_thread(interactions.get_call, db, call_id)
        except NotFound:
            seen[0] = None
        return seen[0] if seen[0] is not None and ready(seen[0]) else None

    try:
        return await wait_until(what, ready_view, timeout, every_s=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {seen[0]}") from None
