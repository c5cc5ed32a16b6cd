"""The switchboard: the ACD at work in the running controller (the only stateful I/O in cti/).

Rules:
- `feed(event)` is synchronous and never awaits: the ACD decides, commands go to the pbx sink
  in order, notices go to the live figures, the hub and the domain-event bus. So ordering per
  call is the ACD's ordering, end to end.
- Time: the switchboard arms one loop timer at the ACD's next deadline and feeds a `Tick`.
- The screen-pop must not wait for the database: caller history is fetched when the caller
  joins the queue. If it is not there when the phone rings, the offer goes out at once with
  `history_pending: true` and a `screen_pop_history` event follows.
- Every agent state change is appended to `state_log_path` (JSON lines): the full history,
  kept across restarts, until crm_core has a table for it.
- After changes the ACD snapshot is written (atomically, at most every `save_every_s`) when a
  path is given, so a restarted controller keeps callers' places; the pbx adapter's channel
  variables cover the last fraction of a second.
- Desktop commands arrive through the hub as protocol messages; `execute` maps them to ACD
  events for the user's own agent, and turns an `AcdError` into a refusal with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cti import events as ev
from cti import notices as nt
from cti import protocol, snapshot
from cti.acd import Acd, AcdError, Step
from cti.agent import AgentStatus
from cti.commands import Command
from cti.config import Caller
from cti.hub import CtiHub, Refused
from cti.ports import CommandSink, HistoryProvider, Principal, QueueDirectory
from cti.stats import LiveFigures
from ground import events as domain
from ground.bus import EventBus

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Switchboard:
    def __init__(
        self,
        acd: Acd,
        pbx: CommandSink | None = None,
        *,
        directory: QueueDirectory | None = None,
        history: HistoryProvider | None = None,
        bus: EventBus | None = None,
        clock: Callable[[], datetime] = utc_now,
        snapshot_path: Path | None = None,
        state_log_path: Path | None = None,
        figures_every_s: float = 1.0,
        history_timeout_s: float = 2.0,
        save_every_s: float = 0.25,
    ) -> None:
        self.acd = acd
        self.pbx: CommandSink = pbx if pbx is not None else HeldCommands()
        self.directory = directory
        self.history = history
        self.bus = bus
        self.clock = clock
        self.snapshot_path = snapshot_path
        self.state_log_path = state_log_path  # agents' state history, one JSON line each
        self._state_lines: list[str] = []
        self.figures_every_s = figures_every_s
        self.history_timeout_s = history_timeout_s
        self.save_every_s = save_every_s
        self.figures = LiveFigures(acd.tz)
        self.hub: CtiHub | None = None
        self.histories: dict[str, Mapping[str, Any] | None] = {}  # call_id -> fetched history
        self._pending_pops: dict[str, list[str]] = {}  # call_id -> agents waiting for history
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._figures_task: asyncio.Task[None] | None = None
        self._save_scheduled = False
        self._feeding = False
        self._deferred: list[ev.AcdEvent] = []
        # Further subscribers of the ACD's notices (the queue_log writer, metrics): called in
        # order, after the hub and the bus; one that fails is logged, never the ACD's problem.
        self.notice_hooks: list[Callable[[nt.Notice], None]] = []

    def attach(self, hub: CtiHub) -> None:
        self.hub = hub

    def attach_pbx(self, pbx: CommandSink) -> None:
        """Connect the pbx adapter; commands issued before it was there are sent now, in order."""
        waiting = self.pbx.drain() if isinstance(self.pbx, HeldCommands) else []
        self.pbx = pbx
        for command in waiting:
            pbx.execute(command)

    # --- events in ---------------------------------------------------------------------------

    def feed(self, event: ev.AcdEvent) -> Step:
        if self._feeding:
            # Fed from inside a sink or subscriber (e.g. a scripted agent answering at once):
            # finish this step first so commands and notices keep the ACD's order.
            self._deferred.append(event)
            return Step()
        self._feeding = True
        try:
            step = self._apply(event)  # raises AcdError with the state unchanged
            while self._deferred:
                later = self._deferred.pop(0)
                try:
                    self._apply(later)
                except AcdError as exc:
                    log.info("ACD refused %s: %s", type(later).__name__, exc)
        finally:
            self._feeding = False
            self._deferred.clear()
        self._arm_timer()
        self._schedule_save()
        return step

    def _apply(self, event: ev.AcdEvent) -> Step:
        step = self.acd.handle(event)
        for command in step.commands:
            self.pbx.execute(command)
        for notice in step.notices:
            self.figures.apply(notice, self.acd.queues)
            self._publish(notice)
            for hook in self.notice_hooks:
                try:
                    hook(notice)
                except Exception:
                    log.exception("notice hook %r failed on %s", hook, type(notice).__name__)
        return step

    def now(self) -> datetime:
        return self.clock()

    def _arm_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # driven synchronously (tests, replays): the caller ticks
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.acd.next_deadline()
        if deadline is None:
            return
        delay = max(0.0, (deadline - self.clock()).total_seconds())
        self._timer = loop.call_later(delay, self._on_timer, deadline)

    def _on_timer(self, deadline: datetime) -> None:
        self._timer = None
        try:
            # The loop may wake a hair early; the tick is for the deadline at the latest.
            self.feed(ev.Tick(max(self.clock(), deadline)))
        except Exception:
            log.exception("ACD tick failed")

    async def boot(self) -> str:
        """Start-up: queues from the directory, then the snapshot file if there is one (callers
        keep their places), else an empty ACD. A snapshot that cannot be read is moved aside
        (``.bad``) rather than blocking the start. Returns what happened, for the log."""
        configs = list(await self.directory.queues()) if self.directory is not None else []
        path = self.snapshot_path
        if path is not None and path.is_file():
            text = path.read_text(encoding="utf-8")
            try:
                restored = snapshot.loads(text, configs, seed=self.acd.seed)
            except snapshot.SnapshotError as exc:
                path.replace(path.with_suffix(".bad"))
                log.error("ACD snapshot %s unusable (%s); starting empty", path, exc)
            else:
                self.acd = restored
                self.figures = LiveFigures(restored.tz)
                # Today's service level and counts survive the restart too.
                self.figures.restore(json.loads(text).get("figures") or {})
                self._arm_timer()
                return (f"restored {len(restored.entries)} waiting, {len(restored.calls)} "
                        f"connected, {len(restored.agents)} agents from {path}")
        at = self.clock()
        for config in configs:
            self.feed(ev.QueueConfigured(at, config))
        return f"{len(configs)} queues configured, nobody waiting"

    async def configure(self) -> int:
        """(Re)load the queues from the directory; waiting callers keep their places."""
        if self.directory is None:
            return 0
        configs = await self.directory.queues()
        at = self.clock()
        for config in configs:
            self.feed(ev.QueueConfigured(at, config))
        return len(configs)

    async def start(self) -> None:
        self._arm_timer()
        if self.figures_every_s > 0 and self._figures_task is None:
            self._figures_task = asyncio.get_running_loop().create_task(self._figures_loop())

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        tasks = list(self._tasks)
        if self._figures_task is not None:
            tasks.append(self._figures_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.save()

    async def _figures_loop(self) -> None:
        while True:
            await asyncio.sleep(self.figures_every_s)
            if self.hub is not None and self.hub.connections:
                self.publish_figures()

    def publish_figures(self) -> None:
        """Supervisors get everything; each consultant the queues they are a member of."""
        assert self.hub is not None
        view = self.figures_view()
        self.hub.publish("figures", view, supervisors=True)
        for queue in view["queues"]:
            members = [a.agent_id for a in self.acd.agents.values()
                       if a.status is not AgentStatus.OFFLINE
                       and a.profile.membership(queue["queue"]) is not None]
            if members:
                self.hub.publish("queue_figures", _queue_brief(queue), agents=members,
                                 supervisors=False)

    # --- snapshot persistence ----------------------------------------------------------------

    def _schedule_save(self) -> None:
        if (self.snapshot_path is None and self.state_log_path is None) or self._save_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        self._save_scheduled = True
        # Coalesced: one write per `save_every_s` at most, however many events arrive.
        loop.call_later(self.save_every_s, self.save)

    def save(self) -> None:
        self._save_scheduled = False
        if self.state_log_path is not None and self._state_lines:
            self.state_log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.state_log_path.open("a", encoding="utf-8") as fh:
                fh.write("".join(self._state_lines))
            self._state_lines.clear()
        if self.snapshot_path is None:
            return
        tmp = self.snapshot_path.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        data = snapshot.dump(self.acd)
        data["figures"] = self.figures.dump()
        tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                       encoding="utf-8")
        tmp.replace(self.snapshot_path)

    # --- notices out -------------------------------------------------------------------------

    def _publish(self, n: nt.Notice) -> None:
        if isinstance(n, nt.CallQueued):
            self._prefetch_history(n.call_id, n.caller.number)
        if isinstance(n, nt.AgentStateChanged) and self.state_log_path is not None:
            self._state_lines.append(json.dumps(
                {"at": n.at.isoformat(), "agent": n.agent, "state": n.state,
                 "reason": n.reason, "call_id": n.call_id},
                ensure_ascii=False, separators=(",", ":")) + "\n")
        if self.bus is not None:
            for d in _domain_events(n):
                self.bus.publish(d)
            queue = self.acd.queues.get(n.queue) if isinstance(n, nt.CallConnected) else None
            if isinstance(n, nt.CallConnected) and queue is not None and queue.record:
                # The pbx adapter records the call bridge under the call's id (BridgeCall).
                self.bus.publish(domain.CallRecorded(n.call_id, n.at, n.call_id))
        if self.hub is None:
            if isinstance(n, nt.CallEnded | nt.CallLeftQueue) and not self.holds(n.call_id):
                self.histories.pop(n.call_id, None)
            return
        hub = self.hub
        at = n.at.isoformat()
        if isinstance(n, nt.AgentStateChanged):
            hub.publish("agent_state", {"agent": n.agent, "state": n.state, "reason": n.reason,
                                        "call_id": n.call_id, "at": at}, agents=[n.agent])
        elif isinstance(n, nt.CallQueued):
            hub.publish("call_queued", {"call_id": n.call_id, "queue": n.queue,
                                        "caller": _caller(n.caller), "priority": n.priority,
                                        "callback": n.callback, "at": at})
        elif isinstance(n, nt.CallOffered):
            pending = self.history is not None and self.histories.get(n.call_id) is None
            if pending:
                self._pending_pops.setdefault(n.call_id, []).append(n.agent)
            hub.publish("call_offered", {
                "call_id": n.call_id, "queue": n.queue, "agent": n.agent,
                "waited_s": round(n.waited_s, 1), "callback": n.callback, "at": at,
                "screen_pop": {
                    "caller_number": n.caller.number, "caller_name": n.caller.name,
                    "ivr_path": list(n.context.ivr_path), "category": n.context.category,
                    "transcript": n.context.transcript,
                    "history": self.histories.get(n.call_id), "history_pending": pending,
                }}, agents=[n.agent])
        elif isinstance(n, nt.OfferWithdrawn):
            hub.publish("offer_withdrawn", {"call_id": n.call_id, "agent": n.agent,
                                            "reason": n.reason, "at": at}, agents=[n.agent])
        elif isinstance(n, nt.CallConnected):
            hub.publish("call_answered", {"call_id": n.call_id, "queue": n.queue,
                                          "agent": n.agent, "waited_s": round(n.waited_s, 1),
                                          "callback": n.callback, "transferred": n.transferred,
                                          "at": at}, agents=[n.agent])
        elif isinstance(n, nt.CallHeld):
            hub.publish("call_held", {"call_id": n.call_id, "agent": n.agent, "held": n.held,
                                      "at": at}, agents=[n.agent])
        elif isinstance(n, nt.CallTransferred):
            hub.publish("call_transferred", {
                "call_id": n.call_id, "agent": n.agent, "kind": n.kind, "target": n.target,
                "attended": n.attended, "at": at},
                agents=[n.agent, n.target] if n.kind == "agent" else [n.agent])
        elif isinstance(n, nt.CallEnded):
            hub.publish("call_ended", {"call_id": n.call_id, "queue": n.queue, "agent": n.agent,
                                       "by": n.by, "talk_s": round(n.talk_s, 1), "at": at},
                        agents=[n.agent])
        elif isinstance(n, nt.CallbackAttempted):
            hub.publish("callback_attempted", {
                "call_id": n.call_id, "queue": n.queue, "agent": n.agent,
                "reached": n.reached, "attempt": n.attempt, "final": n.final, "at": at},
                agents=[n.agent])
        elif isinstance(n, nt.CallLeftQueue):
            hub.publish("call_left_queue", {"call_id": n.call_id, "queue": n.queue,
                                            "reason": n.reason, "waited_s": round(n.waited_s, 1),
                                            "callback": n.callback, "at": at})
        elif isinstance(n, nt.WrapUpDone):
            hub.publish("wrap_up_done", {"agent": n.agent, "call_id": n.call_id,
                                         "disposition": n.disposition, "at": at},
                        agents=[n.agent])
        if isinstance(n, nt.CallEnded | nt.CallLeftQueue) and not self.holds(n.call_id):
            self.histories.pop(n.call_id, None)
            self._pending_pops.pop(n.call_id, None)

    def holds(self, call_id: str) -> bool:
        """Whether the ACD still has the call: waiting, being called back, or connected."""
        return call_id in self.acd.entries or call_id in self.acd.calls

    def needs_channel(self) -> list[str]:
        """Calls that live on their caller's channel: waiting callers and connected inbound
        calls (a callback waits without one, and its resident's leg has its own id)."""
        return ([e.call_id for e in self.acd.entries.values() if not e.callback]
                + [c.call_id for c in self.acd.calls.values() if not c.callback])

    def _prefetch_history(self, call_id: str, number: str) -> None:
        if self.history is None or call_id in self.histories:
            return
        self.histories[call_id] = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._fetch_history(call_id, number))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch_history(self, call_id: str, number: str) -> None:
        assert self.history is not None
        try:
            found = await asyncio.wait_for(self.history.caller_history(number),
                                           self.history_timeout_s)
        except Exception:
            log.exception("caller history for %s failed; screen-pop without it", call_id)
            found = {"error": "history unavailable"}
        if not self.holds(call_id):
            self.histories.pop(call_id, None)
            return
        self.histories[call_id] = found
        waiting = self._pending_pops.pop(call_id, [])
        if waiting and self.hub is not None:
            self.hub.publish("screen_pop_history", {"call_id": call_id, "history": found},
                             agents=waiting)

    # --- views for the hub -------------------------------------------------------------------

    def figures_view(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "at": now.isoformat(),
            "queues": [dataclasses.asdict(q) for q in self.figures.queues(self.acd, now)],
            "agents": [dataclasses.asdict(a) for a in self.figures.agents(self.acd, now)],
        }

    def snapshot_for(self, principal: Principal) -> dict[str, Any]:
        agent = self.acd.agents.get(principal.user)
        mine = {"agent": None if agent is None else {
            "agent": agent.agent_id, "state": agent.status.value, "reason": agent.reason,
            "call_id": agent.call_id, "since": agent.since.isoformat() if agent.since else None,
            "pending_pause": agent.pending_pause}}
        calls = [self._call_view(c.call_id) for c in self.acd.calls.values()
                 if principal.role.sees_everything or c.agent == principal.user]
        ringing = [e.call_id for e in self.acd.entries.values()
                   if principal.user in e.offered_to]
        data: dict[str, Any] = {**mine, "calls": calls,
                                "ringing": [self._entry_view(cid) for cid in ringing]}
        if agent is not None:
            data["my_queues"] = [
                _queue_brief(dataclasses.asdict(q))
                for q in self.figures.queues(self.acd, self.clock())
                if agent.profile.membership(q.queue) is not None]
        if principal.role.sees_everything:
            data["figures"] = self.figures_view()
            data["waiting"] = [self._entry_view(cid) for q in self.acd.order.values()
                               for _, cid in q]
        return data

    def _call_view(self, call_id: str) -> dict[str, Any]:
        c = self.acd.calls[call_id]
        return {"call_id": c.call_id, "queue": c.queue, "agent": c.agent,
                "caller": _caller(c.caller), "held": c.held,
                "connected_at": c.connected_at.isoformat(),
                "consult": None if c.consult is None else {
                    "kind": c.consult.kind.value, "target": c.consult.target,
                    "answered": c.consult.answered}}

    def _entry_view(self, call_id: str) -> dict[str, Any]:
        e = self.acd.entries[call_id]
        return {"call_id": e.call_id, "queue": e.queue, "caller": _caller(e.caller),
                "priority": e.priority, "callback": e.callback, "phase": e.phase.value,
                "joined_at": e.joined_at.isoformat(), "offered_to": sorted(e.offered_to),
                "screen_pop": {"ivr_path": list(e.context.ivr_path),
                               "category": e.context.category,
                               "transcript": e.context.transcript,
                               "history": self.histories.get(call_id)}}

    # --- commands from desktops --------------------------------------------------------------

    async def execute(self, principal: Principal, message: protocol.ClientMessage) -> None:
        event = await self._to_event(principal, message)
        try:
            self.feed(event)
        except AcdError as exc:
            raise Refused(str(exc)) from None

    async def _to_event(self, p: Principal, m: protocol.ClientMessage) -> ev.AcdEvent:
        at = self.clock()
        me = p.user
        if isinstance(m, protocol.Login):
            if self.directory is None:
                raise Refused("no agent directory configured")
            seat = await self.directory.seat(me)
            if seat is None:
                raise Refused(f"user {me} is not an agent of any queue")
            return ev.AgentLoggedIn(at, seat.profile, seat.endpoint)
        if isinstance(m, protocol.SetState):
            if m.state == "available":
                return ev.AgentReady(at, me)
            if m.state == "offline":
                return ev.AgentLoggedOut(at, me)
            await self._check_pause_reason(m.reason)
            return ev.AgentPaused(at, me, m.reason)
        if isinstance(m, protocol.Hold):
            return ev.HoldRequested(at, m.call_id, me)
        if isinstance(m, protocol.Unhold):
            return ev.UnholdRequested(at, m.call_id, me)
        if isinstance(m, protocol.Hangup):
            return ev.HangupRequested(at, m.call_id, me)
        if isinstance(m, protocol.Transfer):
            return ev.TransferRequested(at, m.call_id, me, m.kind, m.target, m.attended)
        if isinstance(m, protocol.CompleteTransfer):
            return ev.TransferCompleted(at, m.call_id, me)
        if isinstance(m, protocol.CancelTransfer):
            return ev.TransferCancelled(at, m.call_id, me)
        if isinstance(m, protocol.CompleteWrapUp):
            return ev.WrapUpCompleted(at, me, m.disposition, m.notes)
        if isinstance(m, protocol.ScheduleCallback):
            return ev.CallbackScheduled(at, f"cb-{uuid.uuid4().hex[:12]}", m.queue,
                                        Caller(m.number, m.name), m.not_before)
        if not p.role.sees_everything:
            raise Refused(f"{p.role.value} may not do this; a supervisor or admin may")
        if isinstance(m, protocol.SnoopCall):
            seat = await self.directory.seat(me) if self.directory is not None else None
            endpoint = seat.endpoint if seat is not None else f"PJSIP/{me}"
            return ev.SnoopRequested(at, m.call_id, me, endpoint, m.mode)
        if isinstance(m, protocol.ForcePause):
            await self._check_pause_reason(m.reason)
            return ev.AgentPaused(at, m.agent, m.reason, by=me)
        if isinstance(m, protocol.ForceLogout):
            return ev.AgentLoggedOut(at, m.agent, by=me)
        if isinstance(m, protocol.ExtendWrapUp):
            return ev.WrapUpExtended(at, m.agent, float(m.seconds), by=me)
        raise Refused(f"{type(m).__name__} is not a command")

    async def _check_pause_reason(self, reason: str) -> None:
        if not reason:
            raise Refused("pause: expected a reason")
        if self.directory is None:
            return
        allowed = await self.directory.pause_reasons()
        if allowed and reason not in allowed:
            raise Refused(f"pause reason {reason!r} is not one of {', '.join(sorted(allowed))}")


class HeldCommands:
    """The sink until the pbx adapter is attached: keeps commands, in order."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def execute(self, command: Command) -> None:
        self.commands.append(command)

    def drain(self) -> list[Command]:
        out, self.commands = self.commands, []
        return out


def _queue_brief(q: Mapping[str, Any]) -> dict[str, Any]:
    """What a consultant sees of their queues."""
    return {k: q[k] for k in ("queue", "waiting", "longest_wait_s", "callbacks_pending")}


def _caller(c: Caller) -> dict[str, str]:
    return {"number": c.number, "name": c.name}


def _domain_events(n: nt.Notice) -> list[domain.DomainEvent]:
    """The ACD's facts in the center's shared vocabulary (ground.events) for the CRM recorder.

    pbx/ publishes CallQueued (when the IVR enqueues) and CallEnded (when the channel goes);
    the ACD adds what only it knows: offers, connections, transfers."""
    if isinstance(n, nt.CallOffered):
        return [domain.CallOffered(n.call_id, n.at, n.queue, n.agent)]
    if isinstance(n, nt.CallConnected) and not n.transferred:
        return [domain.AgentConnected(n.call_id, n.at, n.queue, n.agent, n.waited_s)]
    if isinstance(n, nt.CallTransferred):
        return [domain.CallTransferred(n.call_id, n.at, f"{n.kind}:{n.target}")]
    if isinstance(n, nt.CallQueued) and n.callback:
        return [domain.CallbackRequested(n.call_id, n.at, n.queue, n.caller.number)]
    if isinstance(n, nt.CallbackAttempted):
        return [domain.CallbackAttempted(n.call_id, n.at, n.agent, n.reached, n.attempt,
                                         n.final)]
    if isinstance(n, nt.WrapUpDone) and n.call_id is not None and n.disposition:
        return [domain.CallDispositioned(n.call_id, n.at, n.agent, n.disposition, n.notes)]
    return []
