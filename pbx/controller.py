"""The Stasis controller: ARI events in, call sessions in the middle, ARI requests out.

Rules:
- the event loop never waits on a call's REST requests: each call has its own command queue
  and task, so one slow call cannot delay another, and a call's commands run in order;
- sessions are pure (`pbx.call_session`); this module only translates and executes;
- CRM lookups, prompt rendering and speech recognition run off the loop, bounded in time;
- after every (re)connect the controller resyncs from `GET /channels`: channels still in our
  Stasis app are adopted (their saved state is in channel variables), sessions whose channel
  vanished while we were away are ended.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ground.bus import EventBus
from ground.settings import Settings
from ivr import events as ie
from ivr import lookup as ivr_lookup
from pbx import ari_events as ev
from pbx import call_session as cs
from pbx.ari_client import CALL_CONTROL_EVENTS, AriClient, AriError, AriUnavailable
from pbx.ari_health import AriHealth, AriProbe
from pbx.overload import OverloadGuard, Reading
from pbx.prompts import PromptStage
from pbx.script_library import ScriptLibrary

log = logging.getLogger(__name__)

SHED_SCRIPT = "overload"  # ivr/scripts/overload.yaml: what new callers hear when overloaded

Clock = Callable[[], datetime]
LOOKUP_TIMEOUT_S = 2.0
# Stasis args of a resident's call (the dialplan's `Stasis(ckm,inbound,...)`, the benchmark's
# `Stasis(ckm,bench)`); every other channel in the app is a leg or a tap of such a call.
CALL_ENTRIES = ("inbound", "bench", "bench-queue")


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallRouter(Protocol):
    """Where calls go when the IVR hands them over (the ACD adapter implements it)."""

    async def enqueue(self, call: cs.EnqueueCall) -> None: ...

    async def register_callback(self, call: cs.RegisterCallback, caller_number: str) -> None: ...

    async def caller_gone(self, channel_id: str) -> None: ...

    async def digit(self, channel_id: str, digit: str) -> bool: ...


SpeechSink = Callable[[str, cs.SessionInput], None]


class SpeechPort(Protocol):
    """Streams a caller's audio to a recogniser while the IVR listens."""

    async def start(self, channel_id: str, phrases: tuple[str, ...], language: str, turn: int,
                    sink: SpeechSink) -> None: ...

    async def stop(self, channel_id: str) -> None: ...

    async def release(self, channel_id: str) -> None: ...

    async def reclaim(self, channels: list[dict[str, Any]]) -> int:
        """Remove audio taps a previous process left behind; returns how many."""
        ...


@dataclass
class CallHandle:
    session: cs.CallSession
    queue: asyncio.Queue[list[cs.Command]]
    task: asyncio.Task[None] | None = None
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    started_mono: float = 0.0
    pending_vars: dict[str, str] = field(default_factory=dict)
    var_writer: asyncio.Task[None] | None = None
    # The answer, sent as the call's StasisStart is read (see Controller._start_call); the
    # session's Answer command waits for it instead of sending its own.
    answering: asyncio.Task[None] | None = None
    stamped: float = 0.0  # StasisStart: Asterisk's time stamp and our receipt (epoch s)
    received_wall: float = 0.0


@dataclass
class ControllerStats:
    calls_started: int = 0
    calls_shed: int = 0  # new calls given the busy message while overloaded
    calls_adopted: int = 0
    calls_ended: int = 0
    answer_latency_s: list[float] = field(default_factory=list)
    # StasisStart's time in Asterisk to its handling here (ms resolution): event delivery.
    stasis_lag_s: list[float] = field(default_factory=list)
    # Per new call, wall-clock seconds (epoch): (channel id, Asterisk's StasisStart stamp,
    # StasisStart handled here, answer acknowledged by Asterisk). The call benchmark lays
    # these beside its own originate times to show where the answer's time goes.
    answer_trace: list[tuple[str, float, float, float]] = field(default_factory=list)
    command_errors: int = 0
    resyncs: int = 0


class Controller:
    def __init__(self, settings: Settings, bus: EventBus, *, library: ScriptLibrary,
                 prompts: PromptStage, clock: Clock = utcnow, ari: AriClient | None = None,
                 lookup: ivr_lookup.LookupPort | None = None, router: CallRouter | None = None,
                 speech: SpeechPort | None = None) -> None:
        self.settings = settings
        self.bus = bus
        self.clock = clock
        self.library = library
        self.prompts = prompts
        self.lookup = lookup
        self.router = router
        self.speech = speech
        self.ari = ari or AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                                    settings.ari_app)
        self.ari.allowed_events = CALL_CONTROL_EVENTS
        self.calls: dict[str, CallHandle] = {}
        self.shedding: set[str] = set()  # calls hearing the busy message now
        self._background: set[asyncio.Task[None]] = set()
        self.stats = ControllerStats()
        self.asterisk_version = ""
        self.replaced = False
        # A wedged Asterisk keeps the events socket open and stops answering requests: the
        # probe's verdict is on /healthz and the wallboard.
        self.probe = AriProbe(self.ari.ping, AriHealth())
        self.guard = OverloadGuard(max_calls=settings.max_calls)
        self.ari.on_event(self._on_event)
        self.ari.on_connected(self._on_connected)

    # --- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.ari.start()
        self.probe.start()

    async def stop(self) -> None:
        await self.probe.stop()
        await self.ari.stop()
        for handle in list(self.calls.values()):
            for timer in handle.timers.values():
                timer.cancel()
            if handle.task is not None:
                handle.task.cancel()
        self.calls.clear()

    def script_for(self, args: tuple[str, ...]) -> tuple[str, bool]:
        """(script name, persist recovery vars) for a call entering Stasis with `args`."""
        if args and args[0] in ("bench", "bench-queue") and args[0] in self.library.names():
            return args[0], False  # benchmark flows: loaded only by benchmarks and their tests
        return self.settings.ivr_script, True

    def overload_level(self) -> str:
        """The guard's verdict now (see pbx.overload), from the controller's own readings."""
        cores = os.cpu_count() or 1
        return self.guard.assess(Reading(
            # Callers hearing the short busy message are not the load the guard protects
            # against (a playback each); counting them would shed everyone for the surge.
            at=self.clock(), calls=len(self.calls) - len(self.shedding), ari_state=self._ari_state(),
            ari_rtt_s=self._typical_rtt_s(), loop_lag_s=self.probe.loop_lag_s,
            load_per_core=os.getloadavg()[0] / cores))

    def _ari_state(self) -> str:
        """The probe's verdict as the overload guard reads it (see AriHealth.guard_state)."""
        return self.probe.health.guard_state()

    def _typical_rtt_s(self) -> float | None:
        """The median of the last few ARI round trips, once there are three: one slow answer
        (a probe that waited on this process's own busy start-up) is not a trend, and
        shedding on it sent 162 of 200 benchmark callers away for a 1.4 s blip."""
        recent = sorted(self.probe.health.recent)
        return recent[len(recent) // 2] if len(recent) >= 3 else None

    def health(self) -> dict[str, object]:
        self.overload_level()  # a surge that has passed is seen as passed without a new call
        return {
            "ari": "connected" if self.ari.connected.is_set() else "disconnected",
            "ari_error": self.ari.last_error,
            "ari_connects": self.ari.connects,
            "ari_health": self.probe.health.state,
            "ari_rtt_ms": (round(self.probe.health.last_rtt_s * 1000, 1)
                           if self.probe.health.last_rtt_s is not None else None),
            "ari_problem": self.probe.health.problem(),
            "overload": self.guard.level,
            "overload_reason": self.guard.reason,
            "calls_shed": self.stats.calls_shed,
            "application_replaced": self.replaced,
            "asterisk_version": self.asterisk_version,
            "calls_in_progress": len(self.calls),
            "calls_started": self.stats.calls_started,
            "calls_ended": self.stats.calls_ended,
            "ivr_scripts": {n: self.library.current(n).version for n in self.library.names()},
        }

    # --- events in -----------------------------------------------------------------------
    async def _on_connected(self) -> None:
        try:
            info = await self.ari.asterisk_info()
            self.asterisk_version = str(info.get("system", {}).get("version", ""))
        except (AriError, AriUnavailable) as exc:
            log.warning("asterisk info unavailable: %s", exc)
        await self.resync()

    async def resync(self) -> None:
        self.stats.resyncs += 1
        channels = await self.ari.channels()
        if self.speech is not None:
            await self.speech.reclaim(channels)
        present: set[str] = set()
        for raw in channels:
            try:
                chan = ev.parse_channel(raw)
            except ev.MalformedEvent:
                continue
            present.add(chan.id)
            if chan.id in self.calls or not self._is_ours(chan):
                continue
            args = tuple(chan.app_data.split(",")[1:])
            if not args or args[0] not in CALL_ENTRIES:
                continue  # an agent leg or a helper channel: the ACD adapter re-adopts those
            saved = chan.variables.get(cs.STATE_VAR, "")
            if not saved and chan.state != "Up":
                # Its StasisStart came while the events socket was down: nobody answered it
                # yet, so it starts now as a new call would (adopting it left it ringing).
                log.info("call arrived while disconnected channel=%s: starting it", chan.id)
                self._start_call(chan, args)
                continue
            saved_ivr = chan.variables.get(cs.IVR_VAR, "")
            saved_queue = chan.variables.get(cs.QUEUE_VAR, "")
            handle = self._new_call(chan.id, args)
            self.stats.calls_adopted += 1
            log.info("call adopted channel=%s saved_state=%s", chan.id, saved or "-")
            self._feed(handle, cs.Adopted(
                at=self.clock(), channel_id=chan.id, channel_name=chan.name,
                caller_number=chan.caller_number, caller_name=chan.caller_name,
                saved_state=saved, saved_ivr=saved_ivr, saved_queue=saved_queue,
            ))
        for channel_id in [c for c in self.calls if c not in present]:
            log.info("call ended while disconnected channel=%s", channel_id)
            self._feed(self.calls[channel_id], cs.CallerGone(at=self.clock()))

    def _is_ours(self, chan: ev.Channel) -> bool:
        app = chan.app_data.split(",", 1)[0]
        return chan.app_name == "Stasis" and app == self.settings.ari_app

    async def _on_event(self, event: ev.AriEvent) -> None:
        match event:
            case ev.StasisStart(channel=chan, args=args):
                if chan.id in self.calls or not args or args[0] not in CALL_ENTRIES:
                    return  # agent legs, audio taps: the ACD adapter and speech own those
                if event.timestamp is not None and len(self.stats.stasis_lag_s) < 100_000:
                    self.stats.stasis_lag_s.append(
                        (datetime.now(UTC) - event.timestamp).total_seconds())
                self._start_call(chan, args, event.timestamp)
            case ev.ChannelDtmfReceived(channel=chan, digit=digit):
                self._feed_id(chan.id, cs.Digit(at=self.clock(), digit=digit))
            case ev.PlaybackFinished(playback_id=pid, target_uri=target):
                channel_id = target.removeprefix("channel:")
                self._feed_id(channel_id, cs.PlaybackDone(at=self.clock(), playback_id=pid))
            case ev.StasisEnd(channel=chan):
                self._feed_id(chan.id, cs.CallerGone(at=self.clock()))
            case ev.ApplicationReplaced():
                self.replaced = True
                log.error("ARI application %r was taken over by another connection: this "
                          "controller no longer receives calls. Two controllers cannot share "
                          "one app name; stop the other one.", self.settings.ari_app)
            case _:
                pass

    # --- sessions ----------------------------------------------------------------------------
    def _start_call(self, chan: ev.Channel, args: tuple[str, ...],
                    stamped: datetime | None = None) -> None:
        shed = (self.overload_level() == "overloaded"
                and SHED_SCRIPT in self.library.names()
                and args[0] != "bench")  # the answer benchmark measures its own flow only
        if shed:
            # Before Asterisk wedges: a short message and a callback, not the IVR.
            self.stats.calls_shed += 1
            log.warning("overload (%s): call %s gets the busy message",
                        self.guard.reason, chan.id)
        # A new call's first request is always its answer (the busy message is answered
        # too): it is the first task of the next turn of the loop, ahead of the call's own
        # task, which publishes the call to the CRM first and then waits for this answer.
        answering = asyncio.create_task(self.ari.answer(chan.id), name=f"answer-{chan.id}")
        handle = self._new_call(chan.id, args, script=SHED_SCRIPT if shed else None)
        handle.answering = answering
        if shed:
            self.shedding.add(chan.id)
        handle.started_mono = time.monotonic()
        if stamped is not None:
            handle.stamped, handle.received_wall = stamped.timestamp(), time.time()
        self.stats.calls_started += 1
        dialed = args[1] if len(args) > 1 else chan.exten
        self._feed(handle, cs.Started(
            at=self.clock(), channel_id=chan.id, channel_name=chan.name,
            caller_number=chan.caller_number, caller_name=chan.caller_name,
            dialed=dialed,
        ))

    def _new_call(self, channel_id: str, args: tuple[str, ...], *,
                  script: str | None = None) -> CallHandle:
        name, persist = self.script_for(args)
        name = script or name
        session = cs.CallSession(script=self.library.current(name), persist=persist)
        handle = CallHandle(session=session, queue=asyncio.Queue())
        handle.task = asyncio.create_task(self._execute_loop(channel_id, handle),
                                          name=f"call-{channel_id}")
        self.calls[channel_id] = handle
        return handle

    def feed(self, channel_id: str, item: cs.SessionInput) -> None:
        """Input from outside the ARI stream (speech results, the ACD)."""
        self._feed_id(channel_id, item)

    def _feed_id(self, channel_id: str, item: cs.SessionInput) -> None:
        handle = self.calls.get(channel_id)
        if handle is not None:
            self._feed(handle, item)

    def _feed(self, handle: CallHandle, item: cs.SessionInput) -> None:
        commands = handle.session.handle(item)
        if commands:
            handle.queue.put_nowait(commands)
        if handle.session.state is cs.CallState.ENDED:
            handle.queue.put_nowait([])  # wakes the loop so it can finish

    def _fire(self, handle: CallHandle, name: str, turn: int) -> None:
        handle.timers.pop(name, None)
        self._feed(handle, cs.TimerFired(at=self.clock(), name=name, turn=turn))

    async def _execute_loop(self, channel_id: str, handle: CallHandle) -> None:
        try:
            while True:
                commands = await handle.queue.get()
                for command in commands:
                    await self._execute(channel_id, handle, command)
                if handle.session.state is cs.CallState.ENDED and handle.queue.empty():
                    break
        finally:
            for timer in handle.timers.values():
                timer.cancel()
            if handle.answering is not None:  # the call ended before its Answer ran
                handle.answering.cancel()
                # An answer that failed meanwhile (the caller gone): nothing more to say.
                handle.answering.add_done_callback(
                    lambda task: None if task.cancelled() else task.exception())
            if handle.var_writer is not None:
                handle.var_writer.cancel()
            if self.speech is not None:
                task = asyncio.create_task(self.speech.release(channel_id))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            if self.calls.get(channel_id) is handle:
                del self.calls[channel_id]
                self.shedding.discard(channel_id)
                self.stats.calls_ended += 1

    async def _execute(self, channel_id: str, handle: CallHandle, command: cs.Command) -> None:
        began = time.monotonic()
        log.debug("call %s: %s", channel_id, type(command).__name__)
        try:
            await self._run(channel_id, handle, command)
            log.debug("call %s: %s done", channel_id, type(command).__name__)
            took = time.monotonic() - began
            if took > 0.5:
                log.warning("call %s: %s took %.2f s", channel_id, type(command).__name__, took)
        except AriError as exc:
            self.stats.command_errors += 1
            if exc.status == 404:
                # The channel went away between the event and our request: a normal hang-up race.
                log.info("call %s: %s after channel left", channel_id, type(command).__name__)
                return
            log.warning("call %s: %s failed: %s", channel_id, type(command).__name__, exc)
        except AriUnavailable as exc:
            self.stats.command_errors += 1
            log.warning("call %s: %s not sent: %s", channel_id, type(command).__name__, exc)
        except Exception:
            # A bug must cost one command, never the rest of the call.
            self.stats.command_errors += 1
            log.exception("call %s: %s crashed", channel_id, type(command).__name__)

    async def _run(self, channel_id: str, handle: CallHandle, command: cs.Command) -> None:
        match command:
            case cs.Publish(event=event):
                self.bus.publish(event)
            case cs.Answer(channel_id=cid):
                answering, handle.answering = handle.answering, None
                await (answering if answering is not None else self.ari.answer(cid))
                if handle.started_mono:
                    self.stats.answer_latency_s.append(time.monotonic() - handle.started_mono)
                if handle.stamped and len(self.stats.answer_trace) < 100_000:
                    self.stats.answer_trace.append(
                        (cid, handle.stamped, handle.received_wall, time.time()))
                self._feed(handle, cs.AnswerDone(at=self.clock()))
            case cs.PlayPrompts(channel_id=cid, playback_id=pid, prompts=prompts):
                media = [m for m in [await self.prompts.ensure(p) for p in prompts] if m]
                if not media:
                    # Nothing can be played: let the IVR go on rather than wait forever.
                    self._feed(handle, cs.PlaybackDone(at=self.clock(), playback_id=pid))
                    return
                await self.ari.play(cid, media, pid)
            case cs.StopPlayback(playback_id=pid):
                await self.ari.stop_playback(pid)
            case cs.Hangup(channel_id=cid, reason=reason):
                await self.ari.hangup(cid, reason)
            case cs.SetVar(name=name, value=value):
                # Asterisk runs a channel-variable write on the channel's own thread, after the
                # prompt that is playing (seen: 6-9 s). Recovery state must not hold the call's
                # commands back, so writes go through a per-call writer that keeps only the
                # latest value of each variable.
                handle.pending_vars[name] = value
                if handle.var_writer is None or handle.var_writer.done():
                    handle.var_writer = asyncio.create_task(self._write_vars(channel_id, handle))
            case cs.ArmTimer(name=name, seconds=seconds, turn=turn):
                old = handle.timers.pop(name, None)
                if old is not None:
                    old.cancel()
                handle.timers[name] = asyncio.get_running_loop().call_later(
                    seconds, self._fire, handle, name, turn)
            case cs.CancelTimer(name=name):
                old = handle.timers.pop(name, None)
                if old is not None:
                    old.cancel()
            case cs.LookupRequest(lookup=request):
                task = asyncio.create_task(self._lookup(handle, request))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            case cs.StartListening(channel_id=cid, phrases=phrases, language=lang, turn=turn):
                # Under strain, no recogniser is started: the menu still takes keys.
                if self.speech is not None and self.overload_level() == "normal":
                    await self.speech.start(cid, phrases, lang, turn, self.feed)
            case cs.StopListening(channel_id=cid):
                if self.speech is not None:
                    await self.speech.stop(cid)
            case cs.EnqueueCall(channel_id=cid):
                if self.speech is not None:
                    # A caller in line no longer talks to the IVR: the audio tap (a snoop,
                    # an externalMedia channel and their bridge, RTP streaming to us) goes.
                    self._spawn(self.speech.release(cid))
                if self.router is not None:
                    await self.router.enqueue(command)
                else:
                    await self._hold_without_acd(command)
            case cs.LeaveAcd(channel_id=cid):
                if self.router is not None:
                    await self.router.caller_gone(cid)
            case cs.AcdDigit(channel_id=cid, digit=digit):
                if self.router is not None:
                    await self.router.digit(cid, digit)
            case cs.RegisterCallback():
                if self.router is not None:
                    await self.router.register_callback(command, handle.session.caller_number)
                else:
                    log.warning("call %s: callback requested but no ACD is attached", channel_id)

    async def _write_vars(self, channel_id: str, handle: CallHandle) -> None:
        while handle.pending_vars:
            name = next(iter(handle.pending_vars))
            value = handle.pending_vars.pop(name)
            try:
                await self.ari.set_var(channel_id, name, value)
            except (AriError, AriUnavailable) as exc:
                log.info("call %s: %s not saved: %s", channel_id, name, exc)
                return

    async def _lookup(self, handle: CallHandle, request: ie.IvrEvent | object) -> None:
        from ivr.commands import Lookup

        assert isinstance(request, Lookup)
        if self.lookup is None:
            result = ie.LookupResult(request.kind, False, turn=request.turn)
        else:
            try:
                result = await asyncio.wait_for(
                    asyncio.to_thread(ivr_lookup.answer, self.lookup, request), LOOKUP_TIMEOUT_S)
            except TimeoutError:
                log.warning("CRM lookup %s took over %.1f s; the IVR goes on without it",
                            request.kind, LOOKUP_TIMEOUT_S)
                result = ie.LookupResult(request.kind, False, turn=request.turn)
        self._feed(handle, cs.LookupDone(at=self.clock(), result=result))

    async def _hold_without_acd(self, call: cs.EnqueueCall) -> None:
        """No ACD attached (a controller run on its own): wait with music, never in silence."""
        await self.ari.request("POST", f"/channels/{call.channel_id}/moh",
                               {"mohClass": "default"})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
