"""`ckm run`: the whole center in one asyncio process.

Order of start: Asterisk (when sandboxed) → event bus and its subscribers → ARI controller →
web server. Order of stop is the reverse; Ctrl-C and SIGTERM both stop cleanly. The web
packages (agent_desktop, portal) are mounted by `build_web`, each given the parts it uses by
name, so this module and ckm.assembly stay the only places that know them all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvloop
from aiohttp import web

from ckm import metrics, tls
from ckm.assembly import Center, ScriptDirs, assemble
from ground import edge
from ground.bus import EventBus
from ground.settings import Settings, SettingsError

if TYPE_CHECKING:
    from pbx.crm_lookup import CrmLookup
    from portal.config import PortalConfig

log = logging.getLogger("ckm.run")

CENTER = web.AppKey("center", Center)


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="start the contact center (Asterisk, controller, web)")
    run.add_argument("--no-asterisk", action="store_true",
                     help="do not provision Asterisk; expect ARI to be reachable already")
    run.add_argument("--no-web", action="store_true", help="controller only")
    run.add_argument("--keep-asterisk", action="store_true",
                     help="on exit, leave running a sandbox Asterisk this run started "
                          "(by default it is stopped; one already running is always left)")
    run.set_defaults(handler=_run)


@dataclass(frozen=True)
class AsteriskLease:
    """What `ckm run` did to Asterisk at start, so that it undoes only that on exit.

    Rules: a run stops only a sandbox it started itself (it was not running before `up`), unless
    told to keep it; a sandbox that was already running (another run, `ckm asterisk up`, the
    test suite) and a system Asterisk are never stopped; the exit message says which."""

    mode: str  # sandbox | system | none (--no-asterisk)
    started_here: bool = False
    keep: bool = False

    @property
    def stop_on_exit(self) -> bool:
        return self.mode == "sandbox" and self.started_here and not self.keep

    def exit_message(self) -> str:
        if self.mode == "none":
            return "Asterisk: not started by ckm run (--no-asterisk); left as it was"
        if self.mode == "system":
            return "Asterisk: the system Asterisk is not ckm's to stop; left running"
        if not self.started_here:
            return ("Asterisk: the sandbox was already running when ckm run started; left "
                    "running (stop it with `ckm asterisk down`)")
        if self.keep:
            return ("Asterisk: the sandbox ckm run started is left running (--keep-asterisk; "
                    "stop it with `ckm asterisk down`)")
        return "Asterisk: stopping the sandbox ckm run started"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from pbx import provision

    try:
        tls.server_context(settings)  # a missing or unreadable certificate: say so before starting
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    lease = AsteriskLease("none")
    target: provision.Sandbox | provision.SystemAsterisk | None = None
    if not args.no_asterisk:
        target = provision.select(settings)
        if isinstance(target, provision.Sandbox):
            lease = AsteriskLease("sandbox", started_here=target.pid() is None,
                                  keep=args.keep_asterisk)
        else:
            lease = AsteriskLease("system")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            if target is not None:
                try:
                    status = target.up(settings.data_dir / "logs")
                except provision.ProvisionError as exc:
                    log.error("asterisk: %s", exc)
                    return 1
                log.info("asterisk %s ready: %s", status.mode, status.version.split(" built")[0])
            run_center(serve(settings, web_enabled=not args.no_web))
    finally:
        _release(lease, target)
    return 0


def _release(lease: AsteriskLease, target: Any) -> None:
    """Undo what this run did to Asterisk (see AsteriskLease); a second Ctrl-C while the
    sandbox stops is ignored, so no chroot mount is left behind."""
    from pbx import provision

    print(lease.exit_message(), flush=True)
    if not lease.stop_on_exit or target is None:
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        how = target.down()
        print(f"Asterisk: sandbox stopped{f' ({how})' if how else ''}", flush=True)
    except (provision.ProvisionError, OSError) as exc:  # say it; `ckm asterisk down` retries
        print(f"Asterisk: the sandbox did not stop cleanly: {exc}; run `ckm asterisk down`",
              flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)


# Request lines up to this long reach the handlers (aiohttp's own limit, 8190, answers a bare
# text 400 before any): the Open311 API refuses URLs over 8 KB itself, with 414 in its format.
MAX_REQUEST_LINE = 64 * 1024


def build_web(center: Center, *, portal_config: PortalConfig | None = None) -> web.Application:
    """The center's web server: /healthz, /metrics, the CTI hub, the desktop and the portal
    (`portal_config` overrides the portal's limits taken from the settings)."""
    import agent_desktop.wiring
    import portal.wiring

    app = web.Application(client_max_size=12 * 1024 * 1024,
                          handler_args={"max_line_size": MAX_REQUEST_LINE})
    app[CENTER] = center
    # First: every later middleware and handler sees the client's address and scheme as a
    # trusted proxy forwarded them; HTTPS responses get Secure cookies and HSTS.
    edge.install(app, center.settings.trusted_proxies)
    if center.hub is not None:
        center.hub.mount(app)

    async def healthz(request: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok"}
        if center.controller is not None:
            body.update(center.controller.health())
            if body.get("overload") == "overloaded":
                body["status"] = "degraded"
                body["problem"] = f"overloaded: {body.get('overload_reason')}; new callers " \
                                  "hear the busy message"
            if body.get("ari") != "connected" or body.get("ari_health") == "unresponsive":
                body["status"] = "degraded"
                body["problem"] = body.get("ari_problem") or (
                    f"ARI is not connected: {body.get('ari_error') or 'connecting'}")
        return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    app.router.add_get("/healthz", healthz)
    metrics.mount(app, center)  # /metrics: Prometheus, loopback or metrics_token
    desk = agent_desktop.wiring.setup(app, center.settings, db=center.db, bus=center.bus,
                                      library=center.library, switchboard=center.switchboard,
                                      hub=center.hub)
    # The desk's database (the center's, or the one it opened for a center without a CRM):
    # both packages work on the same engine, as they did when they shared center.services.
    portal.wiring.setup(app, center.settings, db=desk.crm.db, config=portal_config)
    return app


def _crm_lookup(center: Center) -> CrmLookup | None:
    db = center.db
    if db is None:
        log.warning("no CRM database attached: IVR lookups will take their error path")
        return None
    from pbx.crm_lookup import CrmLookup

    return CrmLookup(db)


def run_center(main: Coroutine[Any, Any, None]) -> None:
    """Run the center's coroutine on uvloop's event loop (libuv: its sockets, timers and
    callbacks in C). Call control is a stream of small socket reads and writes; on the stock
    loop their Python-level bookkeeping was most of the controller's CPU per call."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def serve(settings: Settings, *, web_enabled: bool = True,
                stop: asyncio.Event | None = None, extra_scripts: ScriptDirs = ()) -> None:
    """The center until `stop` (or SIGINT/SIGTERM); `extra_scripts` are IVR flows beyond
    `ivr/scripts` (the benchmarks' own, loaded only by them)."""
    from pbx.controller import Controller
    from pbx.watchdog import LoopWatchdog

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    watchdog = LoopWatchdog()
    watchdog.start()
    bus = EventBus()
    center = await assemble(settings, bus, extra_scripts=extra_scripts, outbox_process=True)
    app = build_web(center)
    assert center.ari is not None and center.library is not None and center.prompts is not None
    center.controller = controller = Controller(
        settings, bus, ari=center.ari, library=center.library, prompts=center.prompts,
        lookup=_crm_lookup(center), router=center.router, speech=center.speech,
    )
    runner: web.AppRunner | None = None
    # What start-up built (modules, scripts, prompts, models: ~150k objects) lives as long
    # as the process: moved out of the garbage collector's sight, a full collection during
    # calls scans only what calls made, instead of stopping the loop for ~75 ms or more.
    gc.freeze()
    try:
        await controller.start()
        if web_enabled:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            ssl_context = tls.server_context(settings)
            site = web.TCPSite(runner, settings.web_host, settings.web_port,
                               ssl_context=ssl_context)
            await site.start()
            base = f"{'https' if ssl_context else 'http'}://{settings.web_host}:{settings.web_port}"
            print(f"ckm is running:\n  health     {base}/healthz\n  desktop    {base}/\n"
                  f"  wallboard  {base}/wallboard\n  portal     {base}/portal/\n"
                  f"  Open311    {base}/open311/v2/services.json\n"
                  f"  ARI        {settings.ari_base} (app {settings.ari_app})", flush=True)
        if not await controller.ari.wait_connected(10):
            log.error("ARI not connected yet: %s — still retrying",
                      controller.ari.last_error)
        await stop.wait()
    finally:
        log.info("stopping")
        stats = controller.stats
        print("CKM_STATS " + json.dumps({
            "calls_started": stats.calls_started, "calls_adopted": stats.calls_adopted,
            "calls_ended": stats.calls_ended, "command_errors": stats.command_errors,
            "answer_latency_s": stats.answer_latency_s, "stasis_lag_s": stats.stasis_lag_s,
            "answer_trace": stats.answer_trace,
            "ari_events": dict(controller.ari.events),
            "ari_requests": dict(controller.ari.requests),
            "loop_stalls": len(watchdog.stalls),
        }), flush=True)
        if runner is not None:
            await runner.cleanup()
        await center.close()
        await watchdog.stop()
