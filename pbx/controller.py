"""The Stasis controller: ARI events in, call sessions in the middle, ARI requests out.

Rules:
- the event loop never waits on a call's REST requests: each call has its own command queue
  and task, so one slow call cannot delay another, and a call's commands run in order;
- sessions are pure (`pbx.call_session`); this module only translates and executes;
- after every (re)connect the controller resyncs from `GET /channels`: channels still in our
  Stasis app are adopted (their saved state is in a channel variable), sessions whose channel
  vanished while we were away are ended.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ckm.bus import EventBus
from ckm.settings import Settings
from pbx import ari_events as ev
from pbx import call_session as cs
from pbx.ari_client import AriClient, AriError, AriUnavailable

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CallHandle:
    session: cs.CallSession
    queue: asyncio.Queue[list[cs.Command]]
    task: asyncio.Task[None] | None = None
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    started_mono: float = 0.0


@dataclass
class ControllerStats:
    calls_started: int = 0
    calls_adopted: int = 0
    calls_ended: int = 0
    answer_latency_s: list[float] = field(default_factory=list)
    command_errors: int = 0
    resyncs: int = 0


class Controller:
    def __init__(self, settings: Settings, bus: EventBus, *, clock: Clock = utcnow,
                 ari: AriClient | None = None) -> None:
        self.settings = settings
        self.bus = bus
        self.clock = clock
        self.ari = ari or AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                                    settings.ari_app)
        self.calls: dict[str, CallHandle] = {}
        self.stats = ControllerStats()
        self.asterisk_version = ""
        self.replaced = False
        self.ari.on_event(self._on_event)
        self.ari.on_connected(self._on_connected)

    # --- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.ari.start()

    async def stop(self) -> None:
        await self.ari.stop()
        for handle in list(self.calls.values()):
            for timer in handle.timers.values():
                timer.cancel()
            if handle.task is not None:
                handle.task.cancel()
        self.calls.clear()

    def flow_for(self, args: tuple[str, ...]) -> cs.FlowConfig:
        if args and args[0] == "bench":
            return cs.FlowConfig(greeting="sound:beep", idle_hangup_s=5,
                                 hangup_after_greeting=True, persist_state=False)
        return cs.FlowConfig(greeting=self.settings.greeting,
                             idle_hangup_s=self.settings.idle_hangup_s)

    def health(self) -> dict[str, object]:
        return {
            "ari": "connected" if self.ari.connected.is_set() else "disconnected",
            "ari_error": self.ari.last_error,
            "ari_connects": self.ari.connects,
            "application_replaced": self.replaced,
            "asterisk_version": self.asterisk_version,
            "calls_in_progress": len(self.calls),
            "calls_started": self.stats.calls_started,
            "calls_ended": self.stats.calls_ended,
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
        present: set[str] = set()
        for raw in channels:
            try:
                chan = ev.parse_channel(raw)
            except ev.MalformedEvent:
                continue
            present.add(chan.id)
            if chan.id in self.calls or not self._is_ours(chan):
                continue
            saved = await self.ari.get_var(chan.id, cs.STATE_VAR) or ""
            args = tuple(chan.app_data.split(",")[1:])
            handle = self._new_call(chan.id, args)
            self.stats.calls_adopted += 1
            log.info("call adopted channel=%s saved_state=%s", chan.id, saved or "-")
            self._feed(handle, cs.Adopted(
                at=self.clock(), channel_id=chan.id, channel_name=chan.name,
                caller_number=chan.caller_number, caller_name=chan.caller_name,
                saved_state=saved,
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
                if chan.id in self.calls:
                    return
                handle = self._new_call(chan.id, args)
                handle.started_mono = time.monotonic()
                self.stats.calls_started += 1
                dialed = args[1] if len(args) > 1 else chan.exten
                self._feed(handle, cs.Started(
                    at=self.clock(), channel_id=chan.id, channel_name=chan.name,
                    caller_number=chan.caller_number, caller_name=chan.caller_name,
                    dialed=dialed,
                ))
            case ev.ChannelDtmfReceived(channel=chan, digit=digit):
                log.info("dtmf channel=%s digit=%s", chan.id, digit)
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
    def _new_call(self, channel_id: str, args: tuple[str, ...]) -> CallHandle:
        handle = CallHandle(session=cs.CallSession(config=self.flow_for(args)),
                            queue=asyncio.Queue())
        handle.task = asyncio.create_task(self._execute_loop(channel_id, handle),
                                          name=f"call-{channel_id}")
        self.calls[channel_id] = handle
        return handle

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

    def _fire(self, handle: CallHandle, name: str) -> None:
        handle.timers.pop(name, None)
        self._feed(handle, cs.TimerFired(at=self.clock(), name=name))

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
            if self.calls.get(channel_id) is handle:
                del self.calls[channel_id]
                self.stats.calls_ended += 1

    async def _execute(self, channel_id: str, handle: CallHandle, command: cs.Command) -> None:
        try:
            match command:
                case cs.Publish(event=event):
                    self.bus.publish(event)
                case cs.Answer(channel_id=cid):
                    await self.ari.answer(cid)
                    if handle.started_mono:
                        self.stats.answer_latency_s.append(time.monotonic() - handle.started_mono)
                    self._feed(handle, cs.AnswerDone(at=self.clock()))
                case cs.Play(channel_id=cid, playback_id=pid, media=media):
                    await self.ari.play(cid, media, pid)
                case cs.StopPlayback(playback_id=pid):
                    await self.ari.stop_playback(pid)
                case cs.Hangup(channel_id=cid, reason=reason):
                    await self.ari.hangup(cid, reason)
                case cs.SetVar(channel_id=cid, name=name, value=value):
                    await self.ari.set_var(cid, name, value)
                case cs.ArmTimer(name=name, seconds=seconds):
                    old = handle.timers.pop(name, None)
                    if old is not None:
                        old.cancel()
                    handle.timers[name] = asyncio.get_running_loop().call_later(
                        seconds, self._fire, handle, name)
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
