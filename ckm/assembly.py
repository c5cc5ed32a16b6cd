"""How the center's parts are put together for `ckm run` (and for end-to-end tests).

The composition root: the one module that knows every package. Order matters and is the order
of `assemble`: the CRM (database, migrations, the outbox recorder on the bus, the residents'
notifications) → the ARI client → the ACD (switchboard, pbx adapter, CTI hub, queue_log) →
the residents' notification calls (they reach the ACD) → speech. The runner then adds the
controller and hands each web package the parts it needs, by name and type
(`agent_desktop.wiring.setup`, `portal.wiring.setup`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ground.bus import EventBus
from ground.settings import Settings

if TYPE_CHECKING:
    from crm_core.db import Database
    from crm_core.notifications.call_dispatcher import CallDispatcher
    from crm_core.notifications.dispatcher import Dispatcher
    from crm_core.recorder import Recorder
    from cti.hub import CtiHub
    from cti.queue_log import QueueLogWriter
    from cti.switchboard import Switchboard
    from ivr.asr.models import SpeechModels
    from pbx.acd_adapter import AcdAdapter
    from pbx.ari_client import AriClient
    from pbx.controller import Controller
    from pbx.prompts import PromptStage
    from pbx.script_library import ScriptLibrary
    from pbx.speech import SpeechStreams

log = logging.getLogger("ckm.assembly")

# Extra IVR script folders, each with the queues its scripts may name besides the center's.
ScriptDirs = Iterable[tuple[Path, tuple[str, ...]]]
Cleanup = Callable[[], Awaitable[None]]


@dataclass
class Center:
    """The running center's parts. A part is None when the center runs without it (no CRM, no
    ACD, speech off); `assemble` fills what it was asked for, the runner adds the controller."""

    settings: Settings
    bus: EventBus
    library: ScriptLibrary | None = None  # what new calls run (the editor publishes into it)
    prompts: PromptStage | None = None  # prompts rendered to sound files Asterisk plays
    ari: AriClient | None = None  # shared by the controller and the ACD adapter
    db: Database | None = None
    recorder: Recorder | None = None  # outbox journal + writer of the bus's events
    notifications: Dispatcher | None = None  # residents' e-mail and SMS
    notify_calls: CallDispatcher | None = None  # residents' phone calls from 19115
    switchboard: Switchboard | None = None
    hub: CtiHub | None = None  # mounted at /cti/ws
    router: AcdAdapter | None = None  # the ACD's hands in Asterisk
    queue_log: QueueLogWriter | None = None  # the ACD in Asterisk's queue_log format
    speech: SpeechStreams | None = None  # callers' audio → Vosk / Whisper
    speech_models: SpeechModels | None = None
    controller: Controller | None = None
    cleanups: list[Cleanup] = field(default_factory=list)
    # Parts added beside the center's own, by name: /metrics (ckm.metrics), a test's recorder.
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        """Stop the controller, run the parts' cleanups newest first, close the bus."""
        if self.controller is not None:
            await self.controller.stop()
        for cleanup in reversed(self.cleanups):
            await cleanup()
        await self.bus.close()


async def assemble(settings: Settings, bus: EventBus, *, crm: bool = True,
                   acd: bool = True, speech: bool = True,
                   extra_scripts: ScriptDirs = (), outbox_process: bool = False) -> Center:
    """The center `ckm run` serves: the IVR scripts of `ivr/scripts` only. Benchmarks and the
    tests that need their flows pass `extra_scripts` (e.g. `bench.flows.SCRIPT_DIRS`).
    `outbox_process`: the CRM's outbox writer runs as a child process (`ckm.outbox_process`)
    rather than in this process's threads, as `ckm run` does."""
    from pbx.ari_client import AriClient
    from pbx.prompts import PromptStage
    from pbx.script_library import ScriptLibrary

    center = Center(settings=settings, bus=bus)
    library = ScriptLibrary()
    library.load_dir()
    for folder, queues in extra_scripts:
        library.load_dir(folder, extra_queues=queues)
    prompts = PromptStage(settings)
    center.library, center.prompts = library, prompts
    loop = asyncio.get_running_loop()
    started = loop.time()
    for name in library.names():
        await prompts.prepare_async(library.current(name))
    if acd:
        from pbx import queue_prompts

        await asyncio.to_thread(prompts.prepare_refs, queue_prompts.all_refs())
    log.info("%d IVR prompts ready in %.1f s", len(prompts.catalog), loop.time() - started)
    render_tasks: set[asyncio.Task[int]] = set()

    def render_published(script: Any) -> None:
        task = loop.create_task(prompts.prepare_async(script))
        render_tasks.add(task)
        task.add_done_callback(render_tasks.discard)

    library.on_publish(render_published)
    if crm:
        await attach_crm(center, outbox_process=outbox_process)
        await attach_notifications(center)
        await attach_forwarding(center)
        await attach_monthly_reports(center)
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                    settings.ari_app, warm_pool=True)
    center.ari = ari
    if acd:
        await attach_acd(center, ari, prompts)
        await attach_notify_calls(center, ari, prompts)
    if speech:
        await attach_speech(center, ari)
    return center


async def attach_speech(center: Center, ari: AriClient) -> None:
    """Load the recognisers once, before any call (a model never loads on a call's path)."""
    from ivr.asr.models import ModelError, SpeechModels
    from pbx.speech import SpeechStreams

    settings = center.settings
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        models = await asyncio.to_thread(SpeechModels.load, settings, ("pl", "en", "uk"))
    except (ModelError, OSError) as exc:
        log.error("speech recognition off (keys still work): %s", exc)
        return
    log.info("speech models ready in %.1f s: %s", loop.time() - started,
             ", ".join(f"{lang}={models.engine_name(lang)}" for lang in ("pl", "en", "uk")))
    streams = SpeechStreams(ari, settings, models)
    await streams.open()
    center.speech, center.speech_models = streams, models
    center.cleanups.append(streams.close)


async def attach_crm(center: Center, *, outbox_process: bool = False) -> None:
    from crm_core import recorder
    from crm_core.db import Database, migrate

    settings = center.settings
    await asyncio.to_thread(migrate, settings.db_url)
    db = Database(settings.db_url)
    rec = recorder.start(settings.db_url, settings.data_dir, run_writer=not outbox_process)
    center.db, center.recorder = db, rec
    center.bus.subscribe_batches("crm", rec.on_events)
    if outbox_process:
        # The database work off this process's GIL: see ckm.outbox_process.
        from ckm.outbox_process import OutboxProcess

        writer = OutboxProcess(settings.db_url, settings.data_dir)
        await writer.start()
        center.extras["outbox_process"] = writer
        center.cleanups.append(writer.stop)

    async def close() -> None:
        # The parts that publish were stopped before this (cleanups run newest first and the
        # CRM is attached first), but the bus may still hold what they published — calls the
        # stop itself ended, say: deliver it before the journal closes, or it is lost and
        # every event logs "journal is closed".
        await center.bus.drain()
        await recorder.stop()
        db.dispose()

    center.cleanups.append(close)


async def attach_notifications(center: Center) -> None:
    """The residents' notifications: the outbox's dispatcher on the center's CRM, started now
    and stopped with the center."""
    if center.db is None:
        return
    from crm_core.notifications import wiring as notifications

    dispatcher = notifications.build(center.settings, center.db)
    await dispatcher.start()
    center.notifications = dispatcher
    center.cleanups.append(dispatcher.stop)


async def attach_monthly_reports(center: Center) -> None:
    """Last month's report at 06:00 on the 1st, when report_monthly_dir or _to is set."""
    settings = center.settings
    if center.db is None or not (settings.report_monthly_dir or settings.report_monthly_to):
        return
    from crm_core.reports_monthly import MonthlyReports

    monthly = MonthlyReports(settings, center.db)
    await monthly.start()
    center.extras["monthly_reports"] = monthly
    center.cleanups.append(monthly.stop)


async def attach_forwarding(center: Center) -> None:
    """Cases to departments' own systems (Open311, e-mail) and their answers back; the inbound
    mail listener when `mail_inbound_port` is set (extras "forwarder", "inbound_mail")."""
    if center.db is None:
        return
    from crm_core.forwarding import wiring as forwarding
    from portal.config import PortalConfig

    settings = center.settings
    forwarder = forwarding.build_forwarder(settings, center.db,
                                           media_dir=PortalConfig.from_settings(settings).media_dir)
    if center.notifications is not None and center.notifications.email is not None:
        forwarding.resident_reply_to(settings, center.notifications.email)
    await forwarder.start()
    center.extras["forwarder"] = forwarder
    center.cleanups.append(forwarder.stop)
    inbound = forwarding.build_inbound(settings, center.db)
    if inbound is not None:
        await inbound.start()
        center.extras["inbound_mail"] = inbound
        center.cleanups.append(inbound.stop)


async def attach_notify_calls(center: Center, ari: AriClient, prompts: PromptStage) -> None:
    """Residents who chose to be told by phone: the outbox's call dispatcher, placing calls
    through the pbx's dialer (0 reaches the ACD). Needs the CRM and the ACD."""
    if center.db is None or center.router is None:
        return
    from crm_core.notifications import call_dispatcher
    from pbx.notify_dial import NotifyDialer

    settings = center.settings
    policy = call_dispatcher.policy_from(settings)
    dialer = NotifyDialer(ari, settings, prompts, center.router, queue=settings.notify_call_queue,
                          bus=center.bus)
    await dialer.prepare()
    calls = call_dispatcher.CallDispatcher(center.db, dialer, policy)
    await calls.start()
    center.notify_calls = calls
    center.cleanups.append(calls.stop)


async def attach_acd(center: Center, ari: AriClient, prompts: PromptStage) -> None:
    """The switchboard with crm_core behind its ports, the hub, and the pbx adapter as its
    hands. `boot` loads the queues, then the snapshot: callers keep their places across a
    restart."""
    from cti.acd import Acd
    from cti.cli import snapshot_path, state_log_path
    from cti.hub import CtiHub
    from cti.ports import Authenticator, NobodyLogsIn
    from cti.switchboard import Switchboard
    from pbx.acd_adapter import AcdAdapter

    settings = center.settings
    db = center.db
    directory = history = None
    auth: Authenticator = NobodyLogsIn()
    if db is None:
        log.warning("no CRM database: the ACD has no queues and the CTI hub admits nobody")
    else:
        from cti.crm_link import CrmDirectory, CrmHistory, CrmSessions

        directory, history, auth = CrmDirectory(db), CrmHistory(db), CrmSessions(
            db, settings.session_idle_minutes)
    board = Switchboard(Acd(), directory=directory, history=history, bus=center.bus,
                        snapshot_path=snapshot_path(settings),
                        state_log_path=state_log_path(settings))
    adapter = AcdAdapter(ari, settings, prompts)
    board.attach_pbx(adapter)
    adapter.attach(board)
    hub = CtiHub(auth, board)
    board.attach(hub)
    center.router, center.switchboard, center.hub = adapter, board, hub
    queue_log = _attach_queue_log(center, board, adapter)
    from cti.report_facts import ReportFacts

    board.notice_hooks.append(ReportFacts(center.bus).on_notice)
    try:
        log.info("ACD: %s", await board.boot())
    except Exception:
        log.exception("ACD boot failed; starting with no queues")
    if queue_log is not None:
        queue_log.lines.adopt(board.acd)
    await board.start()

    async def close() -> None:
        await board.stop()
        await hub.close()
        if queue_log is not None:
            queue_log.close()

    center.cleanups.append(close)


def _attach_queue_log(center: Center, board: Switchboard,
                      adapter: AcdAdapter) -> QueueLogWriter | None:
    """The ACD's notices as Asterisk queue_log lines in `queue_log_file` (setting queue_log)."""
    from cti.queue_log import QueueLogWriter, SwitchboardLookup

    settings = center.settings
    if not settings.queue_log:
        return None

    def agent_channel(call_id: str, agent: str) -> str:
        place = adapter.places.get(call_id)
        return str(place.agent_legs.get(agent, "")) if place is not None else ""

    try:
        writer = QueueLogWriter(settings.queue_log_file, SwitchboardLookup(board, agent_channel))
    except OSError as exc:
        log.error("queue_log off: %s", exc)
        return None
    board.notice_hooks.append(writer)
    center.queue_log = writer
    return writer


