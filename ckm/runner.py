"""`ckm run`: the whole center in one asyncio process.

Order of start: Asterisk (when sandboxed) → event bus and its subscribers → ARI controller →
web server. Order of stop is the reverse; Ctrl-C and SIGTERM both stop cleanly. Web packages
(agent_desktop, portal, cti's hub) plug in through `WEB_MODULES`, each with a
`setup(app, center)` function, so this module stays the only place that knows them all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ckm.bus import EventBus
from ckm.settings import ROOT, Settings

log = logging.getLogger("ckm.run")

BENCH_SCRIPTS = ROOT / "bench" / "scripts"
WEB_MODULES = ("crm_core.wiring", "cti.wiring", "agent_desktop.wiring", "portal.wiring")


@dataclass
class Center:
    """What the running center's parts share; handed to every `setup`."""

    settings: Settings
    bus: EventBus
    controller: Any = None
    services: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Any] = field(default_factory=list)


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="start the contact center (Asterisk, controller, web)")
    run.add_argument("--no-asterisk", action="store_true",
                     help="do not provision Asterisk; expect ARI to be reachable already")
    run.add_argument("--no-web", action="store_true", help="controller only")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from pbx import provision

    if not args.no_asterisk:
        try:
            status = provision.select(settings).up(settings.data_dir / "logs")
        except provision.ProvisionError as exc:
            log.error("asterisk: %s", exc)
            return 1
        log.info("asterisk %s ready: %s", status.mode, status.version.split(" built")[0])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, web_enabled=not args.no_web))
    return 0


def build_web(center: Center) -> web.Application:
    app = web.Application(client_max_size=12 * 1024 * 1024)
    app["center"] = center

    async def healthz(request: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok"}
        if center.controller is not None:
            body.update(center.controller.health())
            if body.get("ari") != "connected":
                body["status"] = "degraded"
        return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    app.router.add_get("/healthz", healthz)
    for name in WEB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue
        module.setup(app, center)
    return app


def _crm_lookup(center: Center) -> Any:
    db = center.services.get("crm.db")
    if db is None:
        log.warning("no CRM database attached: IVR lookups will take their error path")
        return None
    from pbx.crm_lookup import CrmLookup

    return CrmLookup(db)


async def serve(settings: Settings, *, web_enabled: bool = True,
                stop: asyncio.Event | None = None) -> None:
    from ivr.model import Script
    from pbx.controller import Controller
    from pbx.prompts import PromptStage
    from pbx.script_library import ScriptLibrary
    from pbx.watchdog import LoopWatchdog

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    watchdog = LoopWatchdog()
    watchdog.start()
    bus = EventBus()
    center = Center(settings=settings, bus=bus)
    library = ScriptLibrary()
    library.load_dir()
    library.load_dir(BENCH_SCRIPTS)
    prompts = PromptStage(settings)
    center.services["ivr.library"] = library
    center.services["ivr.prompts"] = prompts
    # Prompts are rendered before the first call can arrive, never on a call's path.
    started = time.monotonic()
    count = 0
    for name in library.names():
        count = await prompts.prepare_async(library.current(name))
    log.info("%d IVR prompts ready in %.1f s", count, time.monotonic() - started)
    render_tasks: set[asyncio.Task[int]] = set()

    def render_published(script: Script) -> None:
        task = loop.create_task(prompts.prepare_async(script))
        render_tasks.add(task)
        task.add_done_callback(render_tasks.discard)

    library.on_publish(render_published)
    app = build_web(center)  # wiring modules register services and subscribe to the bus
    center.controller = Controller(
        settings, bus, library=library, prompts=prompts,
        lookup=_crm_lookup(center), router=center.services.get("pbx.router"),
        speech=center.services.get("pbx.speech"),
    )
    runner: web.AppRunner | None = None
    try:
        await center.controller.start()
        if web_enabled:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, settings.web_host, settings.web_port)
            await site.start()
            base = f"http://{settings.web_host}:{settings.web_port}"
            print(f"ckm is running:\n  health     {base}/healthz\n  desktop    {base}/\n"
                  f"  wallboard  {base}/wallboard\n  portal     {base}/portal/\n"
                  f"  Open311    {base}/open311/v2/services.json\n"
                  f"  ARI        {settings.ari_base} (app {settings.ari_app})", flush=True)
        if not await center.controller.ari.wait_connected(10):
            log.error("ARI not connected yet: %s — still retrying",
                      center.controller.ari.last_error)
        await stop.wait()
    finally:
        log.info("stopping")
        stats = center.controller.stats
        print("CKM_STATS " + json.dumps({
            "calls_started": stats.calls_started, "calls_adopted": stats.calls_adopted,
            "calls_ended": stats.calls_ended, "command_errors": stats.command_errors,
            "answer_latency_s": stats.answer_latency_s,
            "loop_stalls": len(watchdog.stalls),
        }), flush=True)
        if runner is not None:
            await runner.cleanup()
        await center.controller.stop()
        for cleanup in reversed(center.cleanups):
            await cleanup()
        await bus.close()
        await watchdog.stop()
