"""The switchboard: the ACD at work in the running controller (the only stateful I/O in cti/).

Rules:
- `feed(event)` is synchronous and never awaits: the ACD decides, commands go to the pbx sink
  in order, notices go to the live figures, the domain-event bus, the notifier (the hub and
  the screen-pops: `cti.notifier`, `cti.screen_pop`) and the notice hooks. So ordering per
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
from collections.abc import Callable
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
from cti.notifier import Notifier, caller_view, domain_events, figures_messages, queue_brief, state_line
from cti.ports import CommandSink, HistoryProvider, Principal, QueueDirectory
from cti.screen_pop import context_pop
from cti.stats import LiveFigures
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
        self.bus = bus
        self.clock = clock
        self.snapshot_path = snapshot_path
        self.state_log_path = state_log_path  # agents' state history, one JSON line each
        self._state_lines: list[str] = []
        self.figures_every_s = figures_every_s
        self.save_every_s = save_every_s
        self.figures = LiveFigures(acd.tz)
        # The hub and the screen-pops; `holds` asks the ACD of the moment (boot may replace it).
        self.notifier = Notifier(self.holds, history, history_timeout_s=history_timeout_s)
        self._timer: asyncio.TimerHandle | None = None
        self._figures_task: asyncio.Task[None] | None = None
        self._save_scheduled = False
        self._feeding = False
        self._deferred: list[ev.AcdEvent] = []
        # Further subscribers of the ACD's notices (the queue_log writer, metrics): called in
        # order, after the hub and the bus; one that fails is logged, never the ACD's problem.
        self.notice_hooks: list[Callable[[nt.Notice], None]] = []

    @property
    def hub(self) -> CtiHub | None:
        return self.notifier.hub

    def attach(self, hub: CtiHub) -> None:
        self.notifier.hub = hub

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
        if self._figures_task is not None:
            self._figures_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._figures_task
        await self.notifier.stop()
        self.save()

    async def _figures_loop(self) -> None:
        while True:
            await asyncio.sleep(self.figures_every_s)
            if self.hub is not None and self.hub.connections:
                self.publish_figures()

    def publish_figures(self) -> None:
        """Supervisors get everything; each consultant the queues they are a member of."""
        assert self.hub is not None
        members = {queue: [a.agent_id for a in self.acd.agents.values()
                           if a.status is not AgentStatus.OFFLINE
                           and a.profile.membership(queue) is not None]
                   for queue in self.acd.queues}
        for message in figures_messages(self.figures_view(), members):
            self.notifier.send(message)

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
        if isinstance(n, nt.AgentStateChanged) and self.state_log_path is not None:
            self._state_lines.append(state_line(n))
        if self.bus is not None:
            queue = self.acd.queues.get(n.queue) if isinstance(n, nt.CallConnected) else None
            for d in domain_events(n, recorded=queue is not None and queue.record):
                self.bus.publish(d)
        self.notifier.notice(n)

    def holds(self, call_id: str) -> bool:
        """Whether the ACD still has the call: waiting, being called back, or connected."""
        return call_id in self.acd.entries or call_id in self.acd.calls

    def needs_channel(self) -> list[str]:
        """Calls that live on their caller's channel: waiting callers and connected inbound
        calls (a callback waits without one, and its resident's leg has its own id)."""
        return ([e.call_id for e in self.acd.entries.values() if not e.callback]
                + [c.call_id for c in self.acd.calls.values() if not c.callback])

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
                queue_brief(dataclasses.asdict(q))
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
                "caller": caller_view(c.caller), "held": c.held,
                "connected_at": c.connected_at.isoformat(),
                "consult": None if c.consult is None else {
                    "kind": c.consult.kind.value, "target": c.consult.target,
                    "answered": c.consult.answered}}

    def _entry_view(self, call_id: str) -> dict[str, Any]:
        e = self.acd.entries[call_id]
        return {"call_id": e.call_id, "queue": e.queue, "caller": caller_view(e.caller),
                "priority": e.priority, "callback": e.callback, "phase": e.phase.value,
                "joined_at": e.joined_at.isoformat(), "offered_to": sorted(e.offered_to),
                "screen_pop": context_pop(e.context, self.notifier.pops.history(call_id))}

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
