"""Notification calls in Asterisk: the `PhoneCaller` the outbox's call dispatcher uses.

`call(item)` renders the message to speech (a worker thread, before dialling), originates a
call to the resident's number through `outbound_context` (a trunk in production,
[ckm-test-residents] in tests — the way the ACD dials callbacks) into the center's Stasis app
with the args `notify,<notification id>`, and drives `pbx.notify_call.NotifyCall` with what
Asterisk reports. It returns as soon as the core reports the outcome (answered, or why not);
the call itself goes on: the message, the menu, and on 0 the ACD (enqueued as the IVR's
queue node would, with the case as the screen-pop's context).

Rules:
- the controller and the ACD adapter ignore channels whose Stasis args start with `notify`;
  this adapter ignores every other channel;
- each call's commands run in order on its own worker, so a slow request never delays
  another call;
- a 404 from ARI while a call ends means the resident was faster: fine;
- a `notify` channel this process does not know (left by a controller that died) is hung up
  when it shows up and after every (re)connect, unless the ACD holds it or a bridge does:
  nobody would play it anything;
- one the ACD holds (the resident pressed 0, then the controller restarted) is adopted after
  every (re)connect, as the controller adopts the IVR's callers: its keys and the resident's
  hang-up go to the ACD again. What it needs for that (queue, language, the resident's number)
  rides on the channel (`CKM_QUEUE`, set at the hand-over).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from crm_core.notifications.store import OK, Outcome, Outgoing
from ground import events as domain
from ground.bus import EventBus
from ground.settings import Settings
from ivr import commands as ic
from ivr.tts import TtsError
from pbx import ari_events as ev
from pbx import call_session as cs
from pbx import notify_call as nc
from pbx import notify_prompts
from pbx.ari_client import AriClient, AriError, AriUnavailable, new_id
from pbx.prompts import PromptStage

log = logging.getLogger(__name__)

STASIS_ROLE = "notify"
QUEUE_VAR = cs.QUEUE_VAR  # one of ari.conf's channelvars: it comes back with GET /channels
CALLER_ID = '"Warszawa 19115" <19115>'


class AcdDoor(Protocol):
    """The part of the ACD adapter a notification call uses (pbx.acd_adapter.AcdAdapter)."""

    async def enqueue(self, call: cs.EnqueueCall) -> None: ...

    async def caller_gone(self, channel_id: str) -> None: ...

    async def digit(self, channel_id: str, digit: str) -> bool: ...

    def holds(self, channel_id: str) -> bool: ...


@dataclass
class _Call:
    core: nc.NotifyCall
    item: Outgoing
    outcome: asyncio.Future[Outcome]
    commands: asyncio.Queue[list[nc.Command] | None] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    answered_at: datetime | None = None


class NotifyDialer:
    def __init__(self, ari: AriClient, settings: Settings, prompts: PromptStage,
                 acd: AcdDoor | None, *, queue: str, bus: EventBus | None = None,
                 ring_s: int = 40, plays: int = 2, menu_wait_s: float = 6.0) -> None:
        self.ari = ari
        self.settings = settings
        self.prompts = prompts
        self.acd = acd
        self.queue = queue
        self.bus = bus
        self.ring_s = ring_s
        self.plays = plays
        self.menu_wait_s = menu_wait_s
        self.calls: dict[str, _Call] = {}
        ari.on_event(self.on_event)
        ari.on_connected(self._on_connected)

    def ready(self) -> bool:
        return self.ari.connected.is_set()

    def in_progress(self) -> int:
        return len(self.calls)

    async def prepare(self) -> int:
        """Render the fixed prompts (menu, goodbye, connecting) in every language."""
        return await asyncio.to_thread(self.prompts.prepare_refs, notify_prompts.all_refs())

    # --- PhoneCaller --------------------------------------------------------------------------
    async def call(self, item: Outgoing, deadline_s: float) -> Outcome:
        lang = notify_prompts.language_of(item.language)
        script = self._script(notify_prompts.message(item.text, lang), lang)
        refs = [script.message, script.menu, script.goodbye, script.connecting]
        try:
            await asyncio.to_thread(self.prompts.prepare_refs, refs)
        except (TtsError, OSError) as exc:
            return Outcome(False, error=f"the message could not be rendered to speech: {exc}")
        channel_id = new_id(STASIS_ROLE)
        call = _Call(nc.NotifyCall(script, channel_id), item,
                     asyncio.get_running_loop().create_future())
        call.worker = asyncio.create_task(self._work(channel_id, call), name=f"notify-{channel_id}")
        self.calls[channel_id] = call
        try:
            await self.ari.originate(
                f"Local/{item.to}@{self.settings.outbound_context}", channel_id=channel_id,
                app=self.settings.ari_app, app_args=f"{STASIS_ROLE},{item.id}",
                caller_id=CALLER_ID, timeout=self.ring_s)
        except (AriError, AriUnavailable) as exc:
            self._end(channel_id)
            return Outcome(False, error=f"the call could not be placed: {exc}")
        log.info("notification %d: calling %s (call %d) as %s", item.id, item.to, item.attempts,
                 channel_id)
        try:
            return await asyncio.wait_for(asyncio.shield(call.outcome), deadline_s)
        except TimeoutError:
            await self._give_up(channel_id)
            return Outcome(False, error=f"no answer and no hang-up within {deadline_s:.0f} s")
        except asyncio.CancelledError:
            if not call.outcome.done():  # ckm stops while it rings: the claim's lease retries it
                await self._give_up(channel_id)
            raise

    def _script(self, message: ic.PromptRef, lang: str) -> nc.CallScript:
        return nc.CallScript(
            message=message, menu=notify_prompts.sentence("menu", lang),
            goodbye=notify_prompts.sentence("goodbye", lang),
            connecting=notify_prompts.sentence("connecting", lang),
            language=lang, queue=self.queue, plays=self.plays, menu_wait_s=self.menu_wait_s)

    async def close(self) -> None:
        """ckm stops: hang up the calls still saying their message (nothing would play the
        rest); calls already with the ACD are the ACD's, as the IVR's callers are."""
        for channel_id, call in list(self.calls.items()):
            if call.core.phase is not nc.Phase.TO_CONSULTANT:
                await self._give_up(channel_id)

    async def _give_up(self, channel_id: str) -> None:
        with contextlib.suppress(AriError, AriUnavailable):
            await self.ari.hangup(channel_id)
        self._end(channel_id)

    async def _on_connected(self) -> None:
        await self.reclaim()

    async def reclaim(self) -> list[str]:
        """After every (re)connect, the notification calls in our app this process does not
        drive: those the ACD holds are adopted; the others are hung up unless a bridge holds
        them — a controller that died mid-message left them in silence. Returns the ids hung
        up."""
        bridged = {ch for b in await self.ari.bridges() for ch in b.get("channels", [])}
        orphans = []
        for raw in await self.ari.channels():
            chan_id = str(raw.get("id", ""))
            app_data = str(raw.get("dialplan", {}).get("app_data", ""))
            if (not app_data.startswith(f"{self.settings.ari_app},{STASIS_ROLE},")
                    or chan_id in self.calls):
                continue
            if self.acd is not None and self.acd.holds(chan_id):
                await self._adopt(raw)
            elif chan_id not in bridged:
                orphans.append(chan_id)
        for chan_id in orphans:
            await self.ari.hangup(chan_id)
        if orphans:
            log.warning("hung up %d notification calls left by an earlier controller: %s",
                        len(orphans), ", ".join(orphans[:5]))
        return orphans

    async def _adopt(self, raw: dict[str, Any]) -> None:
        """A call an earlier controller handed to the ACD, which kept its place (its snapshot):
        from now on this process forwards its keys and hang-up to the ACD."""
        assert self.acd is not None
        try:
            chan = ev.parse_channel(raw)
            saved = json.loads(chan.variables.get(QUEUE_VAR) or "{}")
        except (ev.MalformedEvent, ValueError) as exc:
            log.warning("notify call %s held by the ACD could not be read (%s); left as it is",
                        raw.get("id"), exc)
            return
        lang = notify_prompts.language_of(str(saved.get("language", "")))
        number = str(saved.get("number", ""))
        args = chan.app_data.split(",")
        item = Outgoing(id=int(args[2]) if len(args) > 2 and args[2].isdigit() else 0, key="",
                        channel="phone", to=number, language=lang, subject="", text="",
                        html=None, attempts=0, created_at=datetime.now(UTC))
        # Its message was said before the restart: nothing of it is played again.
        script = self._script(notify_prompts.message("", lang), lang)
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        outcome.set_result(OK)
        call = _Call(nc.NotifyCall.adopted(script, chan.id), item, outcome)
        self.calls[chan.id] = call
        call.worker = asyncio.create_task(self._work(chan.id, call), name=f"notify-{chan.id}")
        log.info("notification %d: call %s adopted from an earlier controller (with the ACD)",
                 item.id, chan.id)
        await self.acd.enqueue(cs.EnqueueCall(
            channel_id=chan.id,
            request=ic.Enqueue(queue=str(saved.get("queue") or self.queue), skills=(),
                               priority=5, category="", language=lang),
            caller_number=number, caller_name=""))

    # --- events -------------------------------------------------------------------------------
    async def on_event(self, event: ev.AriEvent) -> None:
        match event:
            case ev.StasisStart(channel=chan, args=args) if args and args[0] == STASIS_ROLE:
                if chan.id in self.calls:
                    self.calls[chan.id].answered_at = datetime.now(UTC)
                    self._feed(chan.id, nc.Answered())
                else:
                    log.info("notify call %s is not this process's; hanging it up", chan.id)
                    await self.ari.hangup(chan.id)
            case ev.ChannelDtmfReceived(channel=chan, digit=digit):
                self._feed(chan.id, nc.Digit(digit))
            case ev.PlaybackFinished(playback_id=pid, target_uri=target):
                self._feed(target.removeprefix("channel:"), nc.PlaybackDone(pid))
            case ev.ChannelDestroyed(channel=chan, cause=cause, cause_txt=text):
                self._feed(chan.id, nc.HungUp(cause, text))
            case ev.StasisEnd(channel=chan):
                self._feed(chan.id, nc.HungUp(16, "Normal Clearing"))
            case _:
                pass

    def _feed(self, channel_id: str, event: nc.Event) -> None:
        call = self.calls.get(channel_id)
        if call is None:
            return
        commands = call.core.handle(event)
        if commands:
            call.commands.put_nowait(commands)
        if call.core.phase is nc.Phase.ENDED:
            call.commands.put_nowait(None)

    def _end(self, channel_id: str) -> None:
        call = self.calls.pop(channel_id, None)
        if call is None:
            return
        for timer in call.timers.values():
            timer.cancel()
        call.commands.put_nowait(None)
        if not call.outcome.done():
            call.outcome.set_result(Outcome(False, error="the call ended before an outcome"))

    def _publish(self, event: domain.DomainEvent) -> None:
        if self.bus is not None:
            self.bus.publish(event)

    # --- commands -----------------------------------------------------------------------------
    async def _work(self, channel_id: str, call: _Call) -> None:
        try:
            while (batch := await call.commands.get()) is not None:
                for command in batch:
                    try:
                        await self._run(channel_id, call, command)
                    except AriError as exc:
                        if exc.status != 404:
                            log.warning("notify %s: %s failed: %s", channel_id,
                                        type(command).__name__, exc)
                    except AriUnavailable as exc:
                        log.warning("notify %s: %s not sent: %s", channel_id,
                                    type(command).__name__, exc)
                    except Exception:
                        log.exception("notify %s: %s crashed", channel_id, type(command).__name__)
        finally:
            if self.calls.get(channel_id) is call:
                core = call.core
                log.info("notification %d: call %s over (answered: %s, message heard: %s, "
                         "plays: %d, to a consultant: %s)", call.item.id, channel_id,
                         bool(core.reported and core.reported.delivered), core.heard, core.plays,
                         core.handed_over)
                self._end(channel_id)
            # The message was rendered for this call (a retry renders it again); the same news
            # twice about one case may be on another line right now.
            message = call.core.script.message
            if all(other.core.script.message != message for other in self.calls.values()):
                self.prompts.forget(message)

    async def _run(self, channel_id: str, call: _Call, command: nc.Command) -> None:
        match command:
            case nc.Report(delivered=delivered, error=error):
                if not call.outcome.done():
                    call.outcome.set_result(OK if delivered else Outcome(False, error=error))
            case nc.Play(playback_id=pid, prompts=prompts):
                media = [m for m in (self.prompts.media_for(p) for p in prompts) if m]
                if not media:
                    log.error("notify %s: prompt %s not rendered; skipped", channel_id,
                              prompts[0].id if prompts else "?")
                    self._feed(channel_id, nc.PlaybackDone(pid))
                    return
                await self.ari.play(channel_id, media, pid)
            case nc.StopPlayback(playback_id=pid):
                await self.ari.stop_playback(pid)
            case nc.ArmTimer(name=name, seconds=seconds, turn=turn):
                old = call.timers.pop(name, None)
                if old is not None:
                    old.cancel()
                call.timers[name] = asyncio.get_running_loop().call_later(
                    seconds, self._feed, channel_id, nc.TimerFired(name, turn))
            case nc.CancelTimer(name=name):
                old = call.timers.pop(name, None)
                if old is not None:
                    old.cancel()
            case nc.ToConsultant(queue=queue, language=language):
                await self._to_consultant(channel_id, call, queue, language)
            case nc.AcdDigit(digit=digit):
                if self.acd is not None:
                    await self.acd.digit(channel_id, digit)
            case nc.LeaveAcd():
                self._publish(domain.CallEnded(call_id=channel_id, at=datetime.now(UTC),
                                               reason="caller_hangup_in_queue"))
                if self.acd is not None:
                    await self.acd.caller_gone(channel_id)
            case nc.Hangup():
                await self.ari.hangup(channel_id)

    async def _to_consultant(self, channel_id: str, call: _Call, queue: str,
                             language: str) -> None:
        if self.acd is None:
            log.error("notify %s: the resident pressed 0 but no ACD is attached", channel_id)
            await self.ari.hangup(channel_id)
            return
        item = call.item
        # From here it is a conversation of the contact center like a call to 19115: the CRM
        # records it (the resident found by their number, the queue, the consultant, the end).
        answered = call.answered_at or datetime.now(UTC)
        self._publish(domain.CallStarted(call_id=channel_id, at=answered, caller_number=item.to,
                                         caller_name="", dialed="notification",
                                         channel_name=""))
        self._publish(domain.CallAnswered(call_id=channel_id, at=answered))
        # The consultant's screen-pop: where the call comes from, the case (its number is in
        # the subject) and what the resident was just told.
        await self.acd.enqueue(cs.EnqueueCall(
            channel_id=channel_id,
            request=ic.Enqueue(queue=queue, skills=(), priority=5, category="",
                               language=language),
            caller_number=item.to, caller_name="",
            ivr_path=("notification call", item.subject, "menu:0"),
            transcript=item.text))
        # What a controller started after a restart needs to adopt the call (see `reclaim`).
        await self.ari.request("POST", f"/channels/{channel_id}/variable", {
            "variable": QUEUE_VAR, "value": json.dumps(
                {"queue": queue, "language": language, "number": item.to})})
