"""The ACD's hands in Asterisk: executes `cti.commands` over ARI and reports what happened.

The contract is in `cti/__init__.py`. This module keeps only what the commands need to find
again — which channel is which call's agent leg, which bridge holds a call — and turns ARI
events about those legs into ACD events (`AgentAnswered`, `AgentDeclined`, `AgentHungUp`, ...).

Rules:
- `execute` never blocks: each call has its own command queue and worker, so commands for one
  call run in order and a slow one never delays another call;
- every leg we originate carries its role in its Stasis args (`agent,<call>,<agent>`,
  `resident,<call>`, `consult,<call>,<agent>`, `supervisor,<call>,<agent>`), so after a
  restart the legs can be told apart from residents' calls;
- a 404 while tearing down means the other side was faster: fine;
- one handler per command (`_handlers`); what a waiting caller's keys mean for the callback
  offer is decided by the pure `cti.callback_offer`: this adapter only plays, stops prompts,
  asks the ACD and hangs up as it says;
- a waiting caller costs Asterisk what one in app_queue costs: music on hold started on the
  caller's own channel (no holding bridge, no announcer channel per bridge), restarted after
  each queue prompt; the only bridge of a call is its call bridge (`ckm-call-<call>`), made
  when a consultant answers and destroyed when the call ends, so nothing is left in Asterisk
  after the calls (measured, `bench/acd_calls.py`: a shared holding bridge's announcer wedged
  Asterisk at 200 callers);
- on every (re)connect, our bridges found empty for over a minute are destroyed: a controller
  that died mid-call leaves them, and no owner keeps an empty bridge that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cti import callback_offer as co
from cti import commands as cc
from cti import events as ce
from cti.acd import AcdError
from cti.config import CallContext, Caller, SkillRequirement
from ground.settings import Settings
from pbx import ari_events as ev
from pbx import call_session as cs
from pbx import queue_prompts
from pbx.ari_client import AriClient, AriError, AriUnavailable, new_id
from pbx.prompts import PromptStage

log = logging.getLogger(__name__)

# ckm-queue-: holding bridges of earlier versions, swept when found empty.
OUR_BRIDGES = ("ckm-call-", "ckm-queue-", "ckm-consult-", "ckm-snoop-")
STALE_BRIDGE_S = 60.0

LEG_ROLES = ("agent", "resident", "consult", "supervisor", "snoop")
TEARDOWN = (cc.CancelRing, cc.HangupAgentLeg, cc.HangupCall)
TEARDOWN_RETRY_S = 2.0


class AcdFeed(Protocol):
    def feed(self, event: ce.AcdEvent) -> Any: ...

    def holds(self, call_id: str) -> bool:
        """Whether the ACD still has the call (waiting, being called back, or connected)."""
        ...

    def needs_channel(self) -> list[str]:
        """Calls the ACD holds that live on their caller's channel (not callbacks)."""
        ...


@dataclass
class Leg:
    channel_id: str
    role: str  # agent | resident | consult | supervisor | snoop
    call_id: str
    agent: str = ""
    answered: bool = False
    offer: int | None = None  # the RingAgent round this leg answers (agent legs)
    partner: str = ""  # a supervisor's snoop channel and the snoop's supervisor, each other's


@dataclass(frozen=True)
class ResumeMusic:
    """Internal to the adapter: a queue prompt ended; the waiting caller hears music again."""

    call_id: str


@dataclass
class CallPlace:
    """Where a call's pieces are in Asterisk."""

    caller_channel: str
    waiting: bool = False  # in line, hearing music on hold on its own channel
    moh_class: str = "default"
    call_bridge: str = ""
    consult_bridge: str = ""
    agent_legs: dict[str, str] = field(default_factory=dict)  # agent -> channel id
    consult_leg: str = ""
    on_hold: bool = False
    language: str = queue_prompts.DEFAULT_LANGUAGE
    caller_number: str = ""
    offer: co.CallbackOffer = field(default_factory=co.CallbackOffer)  # its conversation
    playback: str = ""  # the queue prompt playing now (a key cuts it short)


def _clean_name(name: str) -> str:
    # Quotes and angle brackets would end the caller-id name early in Asterisk's parser.
    return "".join(ch for ch in name if ch not in '"<>\\').strip()[:60]


class AcdAdapter:
    def __init__(self, ari: AriClient, settings: Settings, prompts: PromptStage,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.ari = ari
        self.settings = settings
        self.prompts = prompts
        self.clock = clock
        self.acd: AcdFeed | None = None
        self.places: dict[str, CallPlace] = {}
        self.legs: dict[str, Leg] = {}
        self.callbacks: dict[str, tuple[str, str]] = {}  # callback id -> (number, name)
        self._playing: dict[str, str] = {}  # queue prompt's playback id -> call id
        self._queues: dict[str, asyncio.Queue[cc.Command | ResumeMusic | None]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        self._forgotten: set[str] = set()
        self.stale_bridge_s = STALE_BRIDGE_S
        # Each handler takes the command its key names (Any: a dict cannot say so per key).
        self._handlers: dict[type[cc.Command], Callable[[CallPlace, Any], Awaitable[None]]] = {
            cc.HoldInQueue: self._hold_in_queue,
            cc.AnnouncePosition: self._announce_position,
            cc.OfferCallback: self._offer_callback,
            cc.RejectFromQueue: self._reject_from_queue,
            cc.RingAgent: self._ring,
            cc.CancelRing: self._cancel_ring,
            cc.BridgeCall: self._bridge_call,
            cc.DialResident: self._dial_resident,
            cc.HoldCall: self._hold_call,
            cc.UnholdCall: self._unhold_call,
            cc.HangupAgentLeg: self._hangup_agent_leg,
            cc.HangupCall: self._hangup_call,
            cc.DialExternal: self._dial_external,
            cc.StartConsult: self._start_consult,
            cc.CompleteConsult: self._complete_consult,
            cc.CancelConsult: self._cancel_consult,
            cc.Snoop: self._snoop,
        }
        ari.on_event(self.on_event)
        ari.on_connected(self._on_connected)

    def attach(self, acd: AcdFeed) -> None:
        self.acd = acd

    async def _on_connected(self) -> None:
        await self.reconcile()
        await self.sweep_bridges()

    async def reconcile(self) -> list[str]:
        """End the calls the ACD holds whose caller's channel Asterisk no longer has: a
        resident who hung up while no controller listened (a restart, a dropped socket) is
        no ghost in the line. Callbacks need no channel and stay. Returns the ids ended."""
        if self.acd is None:
            return []
        alive = {str(ch.get("id", "")) for ch in await self.ari.channels()}
        gone = [call_id for call_id in self.acd.needs_channel() if call_id not in alive]
        for call_id in gone:
            self._feed(ce.CallerHungUp(at=self.clock(), call_id=call_id))
            await self._forget(call_id)
        if gone:
            log.warning("acd: %d callers hung up while the controller was away; their places "
                        "are closed as abandoned: %s", len(gone), ", ".join(gone[:5]))
        return gone

    async def sweep_bridges(self) -> int:
        """Destroy our bridges that have been empty for over `stale_bridge_s`; returns how many."""
        now = datetime.now(UTC)  # Asterisk's clock is this machine's wall clock, not the ACD's
        stale = []
        for bridge in await self.ari.bridges():
            bridge_id = str(bridge.get("id", ""))
            created = ev.parse_time(bridge.get("creationtime"))
            if (bridge_id.startswith(OUR_BRIDGES) and not bridge.get("channels")
                    and bridge_id not in self._bridges_in_use()
                    and created is not None
                    and (now - created).total_seconds() >= self.stale_bridge_s):
                stale.append(bridge_id)
        for bridge_id in stale:
            await self.ari.destroy_bridge(bridge_id)
        if stale:
            log.info("acd: destroyed %d empty bridges left from before: %s", len(stale),
                     ", ".join(stale[:5]))
        return len(stale)

    def _bridges_in_use(self) -> set[str]:
        # A call on hold during a consultation leaves its call bridge empty for as long as the
        # consultant talks to a colleague: empty, but not abandoned.
        return {b for place in self.places.values()
                for b in (place.call_bridge, place.consult_bridge) if b}

    # --- CommandSink ---------------------------------------------------------------------
    def execute(self, command: cc.Command | ResumeMusic) -> None:
        queue = self._queues.get(command.call_id)
        if queue is None:
            queue = self._queues[command.call_id] = asyncio.Queue()
            self._workers[command.call_id] = asyncio.create_task(
                self._worker(command.call_id, queue), name=f"acd-{command.call_id}")
        queue.put_nowait(command)

    async def _worker(self, call_id: str,
                      queue: asyncio.Queue[cc.Command | ResumeMusic | None]) -> None:
        while True:
            command = await queue.get()
            if command is None:
                return
            try:
                if isinstance(command, ResumeMusic):
                    await self._resume_music(command.call_id)
                else:
                    await self._run(command)
            except AriError as exc:
                if exc.status == 404:
                    log.info("acd %s: %s after the channel left", call_id, type(command).__name__)
                else:
                    log.warning("acd %s: %s failed: %s", call_id, type(command).__name__, exc)
            except AriUnavailable as exc:
                log.warning("acd %s: %s not sent: %s", call_id, type(command).__name__, exc)
                if isinstance(command, TEARDOWN):
                    # A hang-up that got no answer may never have happened: a caller or a
                    # consultant's leg left up is lost to everyone. Once more, a bit later
                    # (a hang-up of what is already gone is a harmless 404).
                    self._spawn(self._teardown_again(command))
            except Exception:
                log.exception("acd %s: %s crashed", call_id, type(command).__name__)

    async def _teardown_again(self, command: cc.Command) -> None:
        await asyncio.sleep(TEARDOWN_RETRY_S)
        try:
            await self._run(command)
        except (AriError, AriUnavailable) as exc:
            log.error("acd %s: %s failed twice: %s", command.call_id, type(command).__name__,
                      exc)

    def _feed(self, event: ce.AcdEvent) -> bool:
        """Hand `event` to the ACD; False when it refused it (the reason is logged)."""
        if self.acd is None:
            log.error("no ACD attached; dropping %s", type(event).__name__)
            return False
        try:
            self.acd.feed(event)
        except AcdError as exc:
            # A race the ACD already settled (a hang-up reported twice, a late answer).
            log.info("acd refused %s: %s", type(event).__name__, exc)
            return False
        return True

    # --- CallRouter (from the controller) --------------------------------------------------
    async def enqueue(self, call: cs.EnqueueCall) -> None:
        req = call.request
        place = self.places.setdefault(call.channel_id, CallPlace(caller_channel=call.channel_id))
        place.language = queue_prompts.language_of(req.language)
        place.caller_number = call.caller_number
        if call.channel_id in self._waiting_in_snapshot():
            # Re-adopted after a restart: the ACD kept its place. The music went on in
            # Asterisk meanwhile, unless a queue prompt ended while nobody listened: start it.
            place.waiting = True
            await self._music(place)
            return
        self._feed(ce.CallEnqueued(
            at=self.clock(), call_id=call.channel_id, queue=req.queue,
            caller=Caller(number=call.caller_number, name=call.caller_name),
            priority=req.priority,
            skills=tuple(SkillRequirement(s) for s in req.skills),
            context=CallContext(ivr_path=call.ivr_path, category=req.category,
                                transcript=call.transcript),
        ))

    async def register_callback(self, call: cs.RegisterCallback, caller_number: str) -> None:
        callback_id = new_id("callback")
        number = call.request.number or caller_number
        if not self._feed(ce.CallbackScheduled(at=self.clock(), callback_id=callback_id,
                                               queue=call.request.queue,
                                               caller=Caller(number=number))):
            # The IVR asks a withheld caller for a number first; one that still cannot be
            # dialled is an error someone must see, not a silent drop.
            log.error("callback for %r in queue %s could not be registered (see above)",
                      number, call.request.queue)
            return
        self.callbacks[callback_id] = (number, "")

    def holds(self, channel_id: str) -> bool:
        """Whether the ACD has the call (a restarted notification dialer adopts those)."""
        return self.acd is not None and self.acd.holds(channel_id)

    async def caller_gone(self, channel_id: str) -> None:
        self._feed(ce.CallerHungUp(at=self.clock(), call_id=channel_id))
        if self.acd is not None and self.acd.holds(channel_id):
            # A caller who asked to be called back hung up: their place in line stays, and
            # what the ACD does with it later (ring a consultant, dial the resident) must run.
            await self._release_caller(channel_id)
            return
        await self._forget(channel_id)

    async def digit(self, channel_id: str, digit: str) -> bool:
        """A key from a caller waiting in a queue; True when the callback offer used it."""
        place = self.places.get(channel_id)
        if place is None:
            return False
        step = self._offer_step(place, channel_id, co.KeyPressed(digit))
        if step is None:
            return False
        await self._carry_out(place, channel_id, step)
        return step.used

    def _offer_step(self, place: CallPlace, call_id: str,
                    event: co.OfferEvent) -> co.OfferStep | None:
        try:
            step = co.handle(place.offer, event)
        except co.OfferError as exc:
            log.info("acd %s: %s", call_id, exc)
            return None
        place.offer = step.offer
        return step

    async def _carry_out(self, place: CallPlace, call_id: str, step: co.OfferStep) -> None:
        """Execute what the callback offer asks for, in order."""
        for command in step.commands:
            match command:
                case co.StopPrompt():
                    await self._hush(place)
                case co.Say(prompt=prompt, wait=wait):
                    await self._say(place, prompt, wait=wait)
                case co.RequestCallback(number=number):
                    taken = self._feed(ce.CallbackRequested(at=self.clock(), call_id=call_id,
                                                            number=number))
                    answer = self._offer_step(
                        place, call_id, co.CallbackTaken() if taken else co.CallbackRefused())
                    if answer is not None:
                        await self._carry_out(place, call_id, answer)
                case co.HangUp():
                    await self.ari.hangup(call_id)

    # --- ARI events about our legs ----------------------------------------------------------
    async def on_event(self, event: ev.AriEvent) -> None:
        match event:
            case ev.StasisStart(channel=chan, args=args) if args and args[0] in LEG_ROLES:
                await self._leg_answered(chan, args)
            case ev.StasisEnd(channel=chan) | ev.ChannelDestroyed(channel=chan):
                leg = self.legs.pop(chan.id, None)
                if leg is not None:
                    self._leg_gone(leg)
            case ev.PlaybackFinished(playback_id=pid):
                call_id = self._playing.pop(pid, "")
                place = self.places.get(call_id)
                if place is not None and place.playback in ("", pid):
                    place.playback = ""
                    if place.waiting:
                        # Through the call's worker: in order with a BridgeCall under way.
                        self.execute(ResumeMusic(call_id))
            case _:
                pass

    async def _leg_answered(self, chan: ev.Channel, args: tuple[str, ...]) -> None:
        leg = self.legs.get(chan.id)
        if leg is None:
            # A leg from before a restart (or whose originate timed out): the ACD forgot its
            # rings; hang it up — in the background, never holding the event stream up.
            log.info("acd: unknown %s leg %s; hanging it up", args[0], chan.id)
            self._spawn(self.ari.hangup(chan.id))
            return
        leg.answered = True
        at = self.clock()
        match leg.role:
            case "agent":
                self._feed(ce.AgentAnswered(at=at, call_id=leg.call_id, agent=leg.agent,
                                            offer=leg.offer))
            case "resident":
                place = self.places.setdefault(leg.call_id, CallPlace(caller_channel=chan.id))
                place.caller_channel = chan.id
                self._feed(ce.ResidentAnswered(at=at, call_id=leg.call_id))
            case "consult":
                consulting = self.places.get(leg.call_id)
                agent_chan = consulting.agent_legs.get(leg.agent) if consulting else None
                if consulting is not None and agent_chan:
                    consulting.consult_bridge = f"ckm-consult-{leg.call_id}"
                    await self._bridge(consulting.consult_bridge, [agent_chan, chan.id])
                self._feed(ce.ConsultAnswered(at=at, call_id=leg.call_id))
            case "supervisor":
                watched = self.places.get(leg.call_id)
                if leg.partner:
                    await self._bridge(f"ckm-snoop-{chan.id}", [leg.partner, chan.id])
                elif watched is not None and watched.call_bridge:
                    await self._add(watched.call_bridge, chan.id)

    def _leg_gone(self, leg: Leg) -> None:
        at = self.clock()
        match leg.role:
            case "agent":
                place = self.places.get(leg.call_id)
                if place is not None and place.agent_legs.get(leg.agent) == leg.channel_id:
                    del place.agent_legs[leg.agent]
                if leg.answered:
                    self._feed(ce.AgentHungUp(at=at, call_id=leg.call_id, agent=leg.agent))
                else:
                    self._feed(ce.AgentDeclined(at=at, call_id=leg.call_id, agent=leg.agent,
                                                offer=leg.offer))
            case "resident":
                if leg.answered:
                    self._feed(ce.CallerHungUp(at=at, call_id=leg.call_id))
                    self._spawn(self._forget(leg.call_id))
                else:
                    self._feed(ce.ResidentUnreachable(at=at, call_id=leg.call_id))
            case "consult":
                if not leg.answered:
                    self._feed(ce.ConsultFailed(at=at, call_id=leg.call_id))
            case "supervisor":
                # The snoop would go on spying into nothing; the next listen makes its own.
                self._spawn(self.ari.destroy_bridge(f"ckm-snoop-{leg.channel_id}"))
                if leg.partner:
                    self._spawn(self.ari.hangup(leg.partner))
            case "snoop":
                if leg.partner:  # the consultant's leg ended: nothing left to listen to
                    self._spawn(self.ari.hangup(leg.partner))

    # --- commands: one handler each ----------------------------------------------------------
    async def _run(self, command: cc.Command) -> None:
        if command.call_id in self._forgotten and not isinstance(command, TEARDOWN):
            return  # the caller is gone; only tearing down still makes sense
        handler = self._handlers.get(type(command))
        if handler is None:
            log.warning("acd: command %s is not implemented by the pbx adapter",
                        type(command).__name__)
            return
        place = self.places.setdefault(command.call_id, CallPlace(caller_channel=command.call_id))
        await handler(place, command)

    async def _hold_in_queue(self, place: CallPlace, command: cc.HoldInQueue) -> None:
        if place.call_bridge:
            # Back in line after a transfer: out of the call bridge (kept, emptied, for the
            # next consultant) and onto music of its own.
            with contextlib.suppress(AriError):
                await self._remove(place.call_bridge, place.caller_channel)
        place.waiting, place.moh_class = True, command.moh_class or "default"
        await self._music(place)

    async def _announce_position(self, place: CallPlace, command: cc.AnnouncePosition) -> None:
        wait = command.estimated_wait_s
        await self._say(place, "position", command.position, wait=bool(wait))
        if wait:
            await self._say(place, "wait", max(1, round(wait / 60)))

    async def _offer_callback(self, place: CallPlace, command: cc.OfferCallback) -> None:
        step = self._offer_step(place, command.call_id, co.OfferMade(place.caller_number))
        if step is not None:
            await self._carry_out(place, command.call_id, step)

    async def _reject_from_queue(self, place: CallPlace, command: cc.RejectFromQueue) -> None:
        place.waiting = False  # the prompt ends the music
        await self._say(place, "full" if command.reason == "full" else "no_agents", wait=True)
        await self.ari.hangup(place.caller_channel)

    async def _cancel_ring(self, place: CallPlace, command: cc.CancelRing) -> None:
        chan = place.agent_legs.pop(command.agent, "")
        if chan:
            self.legs.pop(chan, None)
            await self.ari.hangup(chan)

    async def _bridge_call(self, place: CallPlace, command: cc.BridgeCall) -> None:
        # The agent has answered: the requests that stop the caller's music and queue prompt
        # go out together with the bridge's, then both legs join at once.
        place.call_bridge = f"ckm-call-{command.call_id}"
        members = [place.caller_channel]
        if command.agent in place.agent_legs:
            members.append(place.agent_legs[command.agent])
        await self._bridge(place.call_bridge, members, before=self._leave_queue(place))
        if command.record:
            await self.ari.request("POST", f"/bridges/{place.call_bridge}/record",
                                   {"name": command.call_id, "format": "wav",
                                    "ifExists": "overwrite"})

    async def _dial_resident(self, place: CallPlace, command: cc.DialResident) -> None:
        leg_id = new_id("resident-cb")
        self.legs[leg_id] = Leg(leg_id, "resident", command.call_id, command.agent)
        await self._originate(self._outbound(command.number), leg_id,
                              f"resident,{command.call_id}", "19115", "19115")

    async def _hold_call(self, place: CallPlace, command: cc.HoldCall) -> None:
        # On hold the resident leaves the call bridge and hears music on their own channel,
        # as while waiting in line; the consultant hears silence. Music started on a channel
        # that stays in the bridge (with its voice muted) was tried first: now and then (one
        # call in ~10 through Local channels, tests/pbx/test_call_control_live.py repeated)
        # the resident's voice never came back after unhold, although the music and the mute
        # were both taken off.
        place.on_hold = True
        if place.call_bridge:
            await self._remove(place.call_bridge, place.caller_channel)
        await self.ari.request("POST", f"/channels/{place.caller_channel}/moh",
                               {"mohClass": command.moh_class or "default"})

    async def _unhold_call(self, place: CallPlace, command: cc.UnholdCall) -> None:
        place.on_hold = False
        await self._take_off_hold(place)

    async def _hangup_agent_leg(self, place: CallPlace, command: cc.HangupAgentLeg) -> None:
        chan = place.agent_legs.pop(command.agent, "")
        if chan:
            await self.ari.hangup(chan)

    async def _hangup_call(self, place: CallPlace, command: cc.HangupCall) -> None:
        for chan in list(place.agent_legs.values()):
            await self.ari.hangup(chan)
        await self._end_caller(place, command.call_id)

    async def _dial_external(self, place: CallPlace, command: cc.DialExternal) -> None:
        await self._leave_queue(place)
        # The caller leaves our hands: the dialplan dials out and the call ends there.
        await self.ari.request("POST", f"/channels/{place.caller_channel}/continue",
                               {"context": self.settings.outbound_context,
                                "extension": command.number, "priority": 1})

    async def _start_consult(self, place: CallPlace, command: cc.StartConsult) -> None:
        agent, target = command.agent, command.target_endpoint
        leg_id = new_id("consult")
        place.consult_leg = leg_id
        self.legs[leg_id] = Leg(leg_id, "consult", command.call_id, agent)
        endpoint = (self._outbound(target.removeprefix("external:"))
                    if target.startswith("external:") else target)
        agent_chan = place.agent_legs.get(agent, "")
        if agent_chan and place.call_bridge:
            await self._remove(place.call_bridge, agent_chan)
        await self._originate(endpoint, leg_id, f"consult,{command.call_id},{agent}",
                              "19115", "Konsultacja")

    async def _complete_consult(self, place: CallPlace, command: cc.CompleteConsult) -> None:
        agent, target = command.agent, command.target
        if place.consult_bridge:
            await self.ari.destroy_bridge(place.consult_bridge)
            place.consult_bridge = ""
        await self._take_off_hold(place)
        if place.consult_leg:
            await self._add(place.call_bridge, place.consult_leg)
            leg = self.legs.get(place.consult_leg)
            if leg is not None and target:
                # The colleague's leg from now on: their hang-up ends their part, and the
                # resident's hang-up hangs it up (HangupAgentLeg).
                leg.role, leg.agent, leg.answered = "agent", target, True
                place.agent_legs[target] = place.consult_leg
                place.consult_leg = ""
            elif leg is not None:
                leg.role = "agent"
                leg.agent = f"transfer:{agent}"
        old = place.agent_legs.pop(agent, "")
        if old:
            self.legs.pop(old, None)
            await self.ari.hangup(old)

    async def _cancel_consult(self, place: CallPlace, command: cc.CancelConsult) -> None:
        if place.consult_leg:
            self.legs.pop(place.consult_leg, None)
            await self.ari.hangup(place.consult_leg)
            place.consult_leg = ""
        if place.consult_bridge:
            await self.ari.destroy_bridge(place.consult_bridge)
            place.consult_bridge = ""
        agent_chan = place.agent_legs.get(command.agent, "")
        if agent_chan and place.call_bridge:
            await self._add(place.call_bridge, agent_chan)
        await self._take_off_hold(place)

    async def _take_off_hold(self, place: CallPlace) -> None:
        await self.ari.request("DELETE", f"/channels/{place.caller_channel}/moh", gone_ok=True)
        if place.call_bridge:
            await self._add(place.call_bridge, place.caller_channel)

    async def _ring(self, place: CallPlace, command: cc.RingAgent) -> None:
        leg_id = f"{command.call_id}-{command.agent}-{command.offer}"[:120]
        place.agent_legs[command.agent] = leg_id
        self.legs[leg_id] = Leg(leg_id, "agent", command.call_id, command.agent,
                                offer=command.offer)
        name = _clean_name(command.caller_name) or "19115"
        try:
            await self._originate(command.endpoint, leg_id,
                                  f"agent,{command.call_id},{command.agent}",
                                  command.caller_number or "anonymous", name,
                                  timeout=int(command.timeout_s) + 5)
        except (AriError, AriUnavailable) as exc:
            # The endpoint does not exist or is not registered (or Asterisk did not answer in
            # time: should the leg come up later, it is an unknown leg and is hung up): a
            # decline, not a crash.
            log.info("acd: ringing %s at %s failed: %s", command.agent, command.endpoint, exc)
            self.legs.pop(leg_id, None)
            place.agent_legs.pop(command.agent, None)
            self._feed(ce.AgentDeclined(at=self.clock(), call_id=command.call_id,
                                        agent=command.agent,
                                        reason=ce.DeclineReason.UNREACHABLE,
                                        offer=command.offer))

    async def _snoop(self, place: CallPlace, command: cc.Snoop) -> None:
        call_id, agent, mode = command.call_id, command.agent, str(command.mode)
        agent_chan = place.agent_legs.get(agent, "")
        sup_leg = new_id("supervisor")
        self.legs[sup_leg] = Leg(sup_leg, "supervisor", call_id, agent)
        if mode != "barge" and agent_chan:
            snoop_id = new_id("snoop")
            self.legs[sup_leg].partner = snoop_id
            self.legs[snoop_id] = Leg(snoop_id, "snoop", call_id, agent, answered=True,
                                      partner=sup_leg)
            await self.ari.request("POST", f"/channels/{agent_chan}/snoop/{snoop_id}", {
                "app": self.settings.ari_app, "appArgs": f"snoop,{call_id},{agent}",
                "spy": "both", "whisper": "out" if mode == "whisper" else "none"})
        await self._originate(command.endpoint, sup_leg, f"supervisor,{call_id},{agent}",
                              "19115", f"Nasłuch {command.supervisor}"[:60])

    # --- helpers -------------------------------------------------------------------------
    def _outbound(self, number: str) -> str:
        return f"Local/{number}@{self.settings.outbound_context}"

    async def _originate(self, endpoint: str, channel_id: str, app_args: str, number: str,
                         name: str, timeout: int = 30) -> None:
        await self.ari.originate(endpoint, channel_id=channel_id, app=self.settings.ari_app,
                                 app_args=app_args, caller_id=f'"{_clean_name(name)}" <{number}>',
                                 timeout=timeout,
                                 formats="opus,ulaw" if endpoint.startswith("PJSIP/") else "")

    async def _bridge(self, bridge: str, channels: list[str],
                      before: Awaitable[None] | None = None) -> None:
        """Create `bridge` (alongside `before`, requests that must be done first) and add
        `channels` to it, all at once: the legs hear each other a round trip sooner."""
        made = await asyncio.gather(self.ari.create_bridge(bridge, "mixing", bridge),
                                    before or asyncio.sleep(0), return_exceptions=True)
        for failed in made:
            # Ours already (409): a caller transferred back into a queue meets the next
            # consultant in the bridge of their first call (emptied when they went back).
            if isinstance(failed, BaseException) and not (
                    isinstance(failed, AriError) and failed.status == 409):
                raise failed
        added = await asyncio.gather(*(self._add(bridge, chan) for chan in channels),
                                     return_exceptions=True)
        problem = next((r for r in added if isinstance(r, BaseException)), None)
        if problem is not None:
            # A side hung up meanwhile: no half-empty bridge may outlive the call.
            await self.ari.destroy_bridge(bridge)
            raise problem

    async def _add(self, bridge: str, channel: str) -> None:
        await self.ari.request("POST", f"/bridges/{bridge}/addChannel",
                               {"channel": channel, "role": "participant"})

    async def _remove(self, bridge: str, channel: str) -> None:
        await self.ari.request("POST", f"/bridges/{bridge}/removeChannel",
                               {"channel": channel}, gone_ok=True)

    def _waiting_in_snapshot(self) -> set[str]:
        acd = getattr(self.acd, "acd", None)
        entries = getattr(acd, "entries", {})
        return {getattr(e, "call_id", "") for e in entries.values()}

    async def _end_caller(self, place: CallPlace, call_id: str) -> None:
        """Hang the caller up. A caller who came in through the dialplan leaves Stasis and the
        dialplan hangs up on the channel's own thread (`Hangup()` after `Stasis()`), as after
        app_queue: under load, a DELETE of a caller just left alone in its call bridge got no
        answer from Asterisk for 10 s (seen in `ckm bench acd`). A callback's resident leg was
        originated by us and has no dialplan to go back to: DELETE."""
        if place.caller_channel != call_id:
            await self.ari.hangup(place.caller_channel)
            return
        await self.ari.request("POST", f"/channels/{place.caller_channel}/continue",
                               gone_ok=True)

    async def _music(self, place: CallPlace) -> None:
        await self.ari.request("POST", f"/channels/{place.caller_channel}/moh",
                               {"mohClass": place.moh_class})

    async def _resume_music(self, call_id: str) -> None:
        place = self.places.get(call_id)
        # Decided now, not when the prompt ended: a key may have started another prompt.
        if place is not None and place.waiting and not place.playback:
            await self._music(place)

    async def _leave_queue(self, place: CallPlace) -> None:
        """The caller stops waiting: no more music, and the queue prompt (if any) cut short."""
        if not place.waiting:
            return
        place.waiting = False
        stops = [self.ari.request("DELETE", f"/channels/{place.caller_channel}/moh",
                                  gone_ok=True)]
        if place.playback:
            playback, place.playback = place.playback, ""
            stops.append(self.ari.stop_playback(playback))
        for result in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(result, AriUnavailable):
                raise result

    async def _say(self, place: CallPlace, key: str, value: int | None = None, *,
                   wait: bool = False) -> None:
        """Play a queue prompt (and its number) in the caller's language over the music."""
        refs = (queue_prompts.with_number(key, value, place.language) if value is not None
                else [queue_prompts.sentence(key, place.language)])
        uris = [uri for uri in [self.prompts.media_for(ref) for ref in refs] if uri]
        if len(uris) != len(refs):
            # Rendered at start-up (assembly); missing means the TTS failed there: say nothing
            # rather than render on the call's path.
            log.error("queue prompt %s (%s) is not rendered; not played", key, place.language)
            return
        playback = place.playback = new_id("acd-pb")
        self._playing[playback] = self._call_of(place)
        done = self.ari.expect("PlaybackFinished", playback) if wait else None
        await self.ari.play(place.caller_channel, uris, playback)
        if done is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done, 20)

    async def _hush(self, place: CallPlace) -> None:
        """A caller who presses a key during a prompt has heard enough of it."""
        if place.playback:
            playback, place.playback = place.playback, ""
            with contextlib.suppress(AriError):
                await self.ari.stop_playback(playback)

    async def _release_caller(self, call_id: str) -> None:
        """The caller's channel is gone but the call lives on in the ACD (a callback)."""
        self.places.pop(call_id, None)

    async def _forget(self, call_id: str) -> None:
        self._forgotten.add(call_id)
        place = self.places.pop(call_id, None)
        queue = self._queues.pop(call_id, None)
        if queue is not None:
            queue.put_nowait(None)
        self._workers.pop(call_id, None)
        if place is None:
            return
        # An outside party joined by an attended transfer is the last leg of the call.
        for chan in [*place.agent_legs.values(), place.consult_leg]:
            if chan:
                await self.ari.hangup(chan)
        for bridge in (place.call_bridge, place.consult_bridge):
            if bridge:
                await self.ari.destroy_bridge(bridge)

    def _call_of(self, place: CallPlace) -> str:
        if self.places.get(place.caller_channel) is place:
            return place.caller_channel
        return next((cid for cid, p in self.places.items() if p is place), "")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)
