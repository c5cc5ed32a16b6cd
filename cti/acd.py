"""The ACD: queues, agents and calls in one pure dispatcher. `Acd.handle(event) -> Step`.

Rules:
- No I/O and no clock: every event carries its time; `Tick` moves time on; `next_deadline()`
  says when the next Tick is needed. Given the same events (and seed) it returns the same steps.
- An illegal event (unknown queue, a hold on a call the agent is not on, ...) raises `AcdError`
  and leaves the state unchanged: every handler checks everything before it changes anything.
- Telephony races are not errors: a hangup for a call we no longer know, or a late answer from
  a ring-all loser, is answered with nothing (or with a `CancelRing`), never an exception.
- Invariants (tested with hypothesis): an entry rings at most one agent, except ring-all, where
  the first answer wins and the other rings are cancelled; an agent is ringing or talking for at
  most one call.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cti import commands as cmd
from cti import events as ev
from cti import notices as nt
from cti.agent import Action, Agent, AgentStatus, IllegalTransition, transition
from cti.config import CallContext, Caller, QueueConfig, Strategy
from cti.frozen import evolve
from cti.queue import EntryPhase, QueueEntry, choose, member_key

WARSAW = ZoneInfo("Europe/Warsaw")
HISTORY_LIMIT = 5000  # per agent and day; crm_core keeps the durable history from the notices
TRANSFER_PRIORITY_BOOST = 1000  # a caller transferred to a busy colleague's queue goes first


class AcdError(ValueError):
    """An event the current state does not allow; the state is unchanged."""


@dataclass(frozen=True)
class Step:
    commands: tuple[cmd.Command, ...] = ()
    notices: tuple[nt.Notice, ...] = ()


@dataclass(frozen=True)
class Consult:
    kind: ev.TargetKind
    target: str  # agent id or external number
    answered: bool = False
    deadline: datetime | None = None


@dataclass(frozen=True)
class ActiveCall:
    call_id: str
    queue: str
    agent: str
    caller: Caller
    context: CallContext
    connected_at: datetime
    callback: bool = False
    held: bool = False
    consult: Consult | None = None
    priority: int = 0


def bridge_name(queue: str) -> str:
    return f"ckm-queue-{queue}"


class Acd:
    def __init__(
        self, queues: Iterable[QueueConfig] = (), *, seed: int = 0, tz: ZoneInfo = WARSAW
    ) -> None:
        self.queues: dict[str, QueueConfig] = {}
        self.agents: dict[str, Agent] = {}
        self.available: set[str] = set()  # index of agents in AVAILABLE, kept by _set_agent
        self.entries: dict[str, QueueEntry] = {}
        self.calls: dict[str, ActiveCall] = {}
        self.order: dict[str, list[tuple[tuple[int, int], str]]] = {}
        self.rr_memory: dict[str, tuple[int, str]] = {}
        self.answered_today: dict[str, dict[str, int]] = {}
        self.handle_s: dict[str, float] = {}  # moving average of talk + wrap-up, per queue
        self.history: dict[str, list[nt.AgentStateChanged]] = {}
        self.wrapup_queue: dict[str, tuple[str, str]] = {}  # agent -> (call_id, queue)
        self.seq = 0
        self.offer_seq = 0
        self.day: str = ""
        self.now: datetime | None = None
        self.tz = tz
        self.seed = seed
        self.rng = random.Random(seed)
        self._at: datetime | None = None
        self._day_bounds: tuple[datetime, datetime] | None = None
        self._cmds: list[cmd.Command] = []
        self._notes: list[nt.Notice] = []
        for q in queues:
            self._configure(q)
        self._handlers: dict[type[ev.AcdEvent], Callable[[Any], None]] = {
            ev.QueueConfigured: self._on_queue_configured,
            ev.Tick: self._on_tick,
            ev.CallEnqueued: self._on_enqueued,
            ev.CallerHungUp: self._on_caller_hung_up,
            ev.AgentDeclined: self._on_declined,
            ev.AgentAnswered: self._on_answered,
            ev.AgentHungUp: self._on_agent_hung_up,
            ev.ResidentAnswered: self._on_resident_answered,
            ev.ResidentUnreachable: self._on_resident_unreachable,
            ev.ConsultAnswered: self._on_consult_answered,
            ev.ConsultFailed: self._on_consult_failed,
            ev.CallbackRequested: self._on_callback_requested,
            ev.CallbackScheduled: self._on_callback_scheduled,
            ev.AgentLoggedIn: self._on_login,
            ev.AgentLoggedOut: self._on_logout,
            ev.AgentPaused: self._on_paused,
            ev.AgentReady: self._on_ready,
            ev.WrapUpCompleted: self._on_wrapup_completed,
            ev.HoldRequested: self._on_hold,
            ev.UnholdRequested: self._on_unhold,
            ev.HangupRequested: self._on_hangup_requested,
            ev.TransferRequested: self._on_transfer,
            ev.TransferCompleted: self._on_transfer_completed,
            ev.TransferCancelled: self._on_transfer_cancelled,
            ev.SnoopRequested: self._on_snoop,
        }

    # --- public ------------------------------------------------------------------------------

    def handle(self, event: ev.AcdEvent) -> Step:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise AcdError(f"unknown ACD event {type(event).__name__}")
        if event.at.tzinfo is None:
            raise AcdError(f"{type(event).__name__}: 'at' must be timezone-aware")
        self._cmds, self._notes = [], []
        before = (self.now, self._at, self.day, self._day_bounds)
        # Rolling the day clears counters; keep them until the event is known to be legal.
        saved = None
        if not self._same_day(event.at):
            saved = ({q: dict(c) for q, c in self.answered_today.items()},
                     {a: list(h) for a, h in self.history.items()})
        self.now = event.at if self.now is None else max(self.now, event.at)
        self._at = event.at
        self._roll_day(event.at)
        try:
            handler(event)
        except (AcdError, IllegalTransition) as exc:
            self._cmds, self._notes = [], []
            self.now, self._at, self.day, self._day_bounds = before
            if saved is not None:
                self.answered_today, self.history = saved
            if isinstance(exc, AcdError):
                raise
            raise AcdError(str(exc)) from None
        if not isinstance(event, ev.SnoopRequested):
            self._dispatch(event.at)
        step = Step(tuple(self._cmds), tuple(self._notes))
        self._cmds, self._notes = [], []
        return step

    def next_deadline(self) -> datetime | None:
        """When a Tick is next needed (None: nothing is timed)."""
        times: list[datetime] = []
        for e in self.entries.values():
            config = self.queues[e.queue]
            if e.phase is EntryPhase.OFFERED and e.offer_deadline is not None:
                times.append(e.offer_deadline)
            elif e.phase is EntryPhase.WAITING:
                # not_before and retry_after only matter while in the future: once passed,
                # the entry waits for an agent, and a past deadline would spin the timer.
                for later in (e.not_before, e.retry_after):
                    if later is not None and (self.now is None or later > self.now):
                        times.append(later)
                if e.callback:
                    continue
                if e.next_announce_at is not None:
                    times.append(e.next_announce_at)
                if config.overflow_after_s is not None and not e.overflow_done:
                    times.append(e.joined_at + timedelta(seconds=config.overflow_after_s))
        for a in self.agents.values():
            if a.wrapup_until is not None:
                times.append(a.wrapup_until)
        for c in self.calls.values():
            if c.consult is not None and c.consult.deadline is not None:
                times.append(c.consult.deadline)
        return min(times) if times else None

    def position(self, call_id: str) -> int:
        entry = self.entries[call_id]
        for i, (_, cid) in enumerate(self.order[entry.queue], 1):
            if cid == call_id:
                return i
        raise AssertionError(f"{call_id} missing from queue order")  # pragma: no cover

    def staffed(self, queue: str) -> int:
        config = self.queues[queue]
        return sum(1 for a in self.agents.values() if self._counts_as_staff(a, config))

    # --- configuration and time --------------------------------------------------------------

    def _configure(self, config: QueueConfig) -> None:
        self.queues[config.name] = config
        self.order.setdefault(config.name, [])
        self.answered_today.setdefault(config.name, {})

    def _on_queue_configured(self, e: ev.QueueConfigured) -> None:
        self._configure(e.config)

    def _same_day(self, at: datetime) -> bool:
        bounds = self._day_bounds
        return bounds is not None and bounds[0] <= at < bounds[1]

    def _roll_day(self, at: datetime) -> None:
        if self._same_day(at):
            return
        local = at.astimezone(self.tz)
        # Kept in UTC: comparing datetimes across tzinfo objects is slow (and events are UTC).
        start = datetime.combine(local.date(), datetime.min.time(), self.tz).astimezone(UTC)
        end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                               self.tz).astimezone(UTC)
        self._day_bounds = (start, end)
        day = local.date().isoformat()
        if day != self.day:
            self.day = day
            for counts in self.answered_today.values():
                counts.clear()
            for hist in self.history.values():
                del hist[:-1]

    def _on_tick(self, e: ev.Tick) -> None:
        at = e.at
        for entry in list(self.entries.values()):
            if (entry.phase is EntryPhase.OFFERED and entry.offer_deadline is not None
                    and entry.offer_deadline <= at):
                self._ring_timeout(entry, at)
        for call in list(self.calls.values()):
            if (call.consult is not None and call.consult.deadline is not None
                    and call.consult.deadline <= at):
                self._consult_failed(call, at)
        for agent in list(self.agents.values()):
            if agent.wrapup_until is not None and agent.wrapup_until <= at:
                self._end_wrapup(agent, at, disposition="", notes="")
        for entry in list(self.entries.values()):
            config = self.queues[entry.queue]
            if (entry.phase is EntryPhase.WAITING and not entry.callback
                    and not entry.overflow_done and config.overflow_after_s is not None
                    and (at - entry.joined_at).total_seconds() >= config.overflow_after_s):
                self._overflow(entry, config, at)
        self._announce(at)

    def _ring_timeout(self, entry: QueueEntry, at: datetime) -> None:
        for agent_id in sorted(entry.offered_to):
            self._cmds.append(cmd.CancelRing(entry.call_id, agent_id))
            self._withdraw(agent_id, entry, at, "timeout", unanswered=True)
        self._put(evolve(
            entry, phase=EntryPhase.WAITING, offered_to=frozenset(), offer_deadline=None,
            tried=entry.tried | entry.offered_to, only_agent=None,
            retry_after=at + timedelta(seconds=self.queues[entry.queue].retry_s)))

    def _overflow(self, entry: QueueEntry, config: QueueConfig, at: datetime) -> None:
        target = config.overflow_queue
        if target is not None and target in self.queues:
            waited = (at - entry.joined_at).total_seconds()
            self._notes.append(nt.CallLeftQueue(at, entry.call_id, entry.queue, "overflow",
                                                waited, False))
            self._remove(entry)
            moved = evolve(
                entry, queue=target, joined_at=at, phase=EntryPhase.WAITING, tried=frozenset(),
                overflow_done=False, last_position=None, last_wait_s=None,
                next_announce_at=self._first_announce(self.queues[target], at))
            self._insert(moved)
            tconf = self.queues[target]
            self._cmds.append(cmd.HoldInQueue(entry.call_id, target, bridge_name(target),
                                              tconf.moh_class))
            self._notes.append(nt.CallQueued(at, entry.call_id, target, entry.caller,
                                             entry.priority, False, entry.context))
        else:
            if config.overflow_to_callback:
                self._cmds.append(cmd.OfferCallback(entry.call_id, entry.queue))
            self._put(evolve(entry, overflow_done=True))

    def _announce(self, at: datetime) -> None:
        for queue, order in self.order.items():
            config = self.queues[queue]
            if config.announce_every_s is None or not order:
                continue
            every = timedelta(seconds=config.announce_every_s)
            staff = max(1, self.staffed(queue))
            handle = self.handle_s.get(queue, config.default_handle_s)
            for position, (_, call_id) in enumerate(order, 1):
                entry = self.entries[call_id]
                due = entry.next_announce_at
                if entry.callback or due is None or due > at:
                    continue
                if entry.phase is not EntryPhase.WAITING:
                    self._put(evolve(entry, next_announce_at=at + every))
                    continue
                wait = math.ceil(position / staff * handle / 60) * 60
                improves = entry.last_position is None or position < entry.last_position or (
                    entry.last_wait_s is not None and wait < entry.last_wait_s)
                if improves or not config.announce_only_when_improves:
                    self._cmds.append(cmd.AnnouncePosition(call_id, position, wait))
                    self._put(evolve(entry, last_position=position, last_wait_s=wait,
                                     next_announce_at=at + every))
                else:
                    self._put(evolve(entry, next_announce_at=at + every))

    @staticmethod
    def _first_announce(config: QueueConfig, at: datetime) -> datetime | None:
        if config.announce_every_s is None:
            return None
        return at + timedelta(seconds=config.announce_every_s)

    # --- callers -----------------------------------------------------------------------------

    def _on_enqueued(self, e: ev.CallEnqueued) -> None:
        config = self._queue(e.queue)
        if e.call_id in self.entries or e.call_id in self.calls:
            raise AcdError(f"call {e.call_id} is already queued or connected")
        if config.max_length and len(self.order[e.queue]) >= config.max_length:
            self._reject(e.call_id, e.queue, "full", e.at)
            return
        if not config.join_when_empty and self.staffed(e.queue) == 0:
            self._reject(e.call_id, e.queue, "no_agents", e.at)
            return
        self.seq += 1
        entry = QueueEntry(
            call_id=e.call_id, queue=e.queue, caller=e.caller, priority=e.priority, seq=self.seq,
            joined_at=e.at, skills=config.required_skills + e.skills, context=e.context,
            next_announce_at=self._first_announce(config, e.at))
        self._insert(entry)
        self._cmds.append(cmd.HoldInQueue(e.call_id, e.queue, bridge_name(e.queue),
                                          config.moh_class))
        self._notes.append(nt.CallQueued(e.at, e.call_id, e.queue, e.caller, e.priority, False,
                                         e.context))

    def _reject(self, call_id: str, queue: str, reason: str, at: datetime) -> None:
        self._cmds.append(cmd.RejectFromQueue(call_id, queue, reason))
        self._notes.append(nt.CallLeftQueue(at, call_id, queue, reason, 0.0, False))

    def _on_caller_hung_up(self, e: ev.CallerHungUp) -> None:
        entry = self.entries.get(e.call_id)
        if entry is not None:
            if entry.callback:
                if entry.phase is EntryPhase.DIALING:
                    self._resident_unreachable(entry, e.at)
                # Otherwise the caller hung up after asking for a callback: expected, not abandon.
                return
            self._cancel_offers(entry, e.at, "caller_gone")
            self._remove(entry)
            reason = "abandoned_after_transfer" if entry.transferred else "abandoned"
            self._notes.append(nt.CallLeftQueue(e.at, e.call_id, entry.queue, reason,
                                                self._waited(entry, e.at), False))
            return
        call = self.calls.get(e.call_id)
        if call is None:
            return  # already gone: ARI reports hangups of both legs, in either order
        if call.consult is not None:
            self._drop_consult(call, e.at, hang_up_leg=True)
        self._cmds.append(cmd.HangupAgentLeg(call.call_id, call.agent))
        self._end_call(call, e.at, by="caller")

    def _on_callback_requested(self, e: ev.CallbackRequested) -> None:
        entry = self.entries.get(e.call_id)
        if entry is None or entry.callback:
            raise AcdError(f"call {e.call_id} is not waiting in a queue")
        number = e.number or entry.caller.number
        if not _valid_number(number):
            raise AcdError(f"callback: no number to call back (caller id {number!r})")
        self._cancel_offers(entry, e.at, "caller_gone")
        converted = evolve(
            entry, callback=True, caller=Caller(number, entry.caller.name),
            phase=EntryPhase.WAITING, offered_to=frozenset(), offer_deadline=None,
            next_announce_at=None)
        self._put(converted)
        self._notes.append(nt.CallQueued(e.at, e.call_id, entry.queue, converted.caller,
                                         entry.priority, True, entry.context))

    def _on_callback_scheduled(self, e: ev.CallbackScheduled) -> None:
        self._queue(e.queue)
        if e.callback_id in self.entries or e.callback_id in self.calls:
            raise AcdError(f"callback id {e.callback_id} is already in use")
        if not e.caller.number:
            raise AcdError("callback: expected the number to call back")
        self.seq += 1
        entry = QueueEntry(
            call_id=e.callback_id, queue=e.queue, caller=e.caller, priority=0, seq=self.seq,
            joined_at=e.at, skills=self.queues[e.queue].required_skills, context=e.context,
            callback=True, not_before=e.not_before)
        self._insert(entry)
        self._notes.append(nt.CallQueued(e.at, e.callback_id, e.queue, e.caller, 0, True,
                                         e.context))

    def _on_resident_answered(self, e: ev.ResidentAnswered) -> None:
        entry = self.entries.get(e.call_id)
        if entry is None or entry.phase is not EntryPhase.DIALING:
            raise AcdError(f"callback {e.call_id} is not being dialled")
        (agent_id,) = entry.offered_to
        config = self.queues[entry.queue]
        self._remove(entry)
        self.calls[e.call_id] = ActiveCall(e.call_id, entry.queue, agent_id, entry.caller,
                                           entry.context, e.at, callback=True,
                                           priority=entry.priority)
        self._cmds.append(cmd.BridgeCall(e.call_id, agent_id, config.record))
        self._notes.append(nt.CallConnected(e.at, e.call_id, entry.queue, agent_id,
                                            self._waited(entry, e.at), True))

    def _on_resident_unreachable(self, e: ev.ResidentUnreachable) -> None:
        entry = self.entries.get(e.call_id)
        if entry is None or entry.phase is not EntryPhase.DIALING:
            return  # a late failure report for a callback we already settled
        self._resident_unreachable(entry, e.at)

    def _resident_unreachable(self, entry: QueueEntry, at: datetime) -> None:
        config = self.queues[entry.queue]
        for agent_id in entry.offered_to:
            agent = self.agents[agent_id]
            self._set_agent(transition(agent, Action.END_CALL, at, to=self._idle_target(agent),
                                       reason=agent.pending_pause or ""))
        attempts = entry.attempts + 1
        if attempts >= config.callback_attempts:
            self._remove(entry)
            self._notes.append(nt.CallLeftQueue(at, entry.call_id, entry.queue,
                                                "callback_failed", self._waited(entry, at), True))
            return
        self._put(evolve(
            entry, attempts=attempts, phase=EntryPhase.WAITING, offered_to=frozenset(),
            offer_deadline=None, not_before=at + timedelta(seconds=config.callback_retry_s)))

    # --- offers ------------------------------------------------------------------------------

    def _dispatch(self, at: datetime) -> None:
        if not self.available:
            return
        free = {aid: self.agents[aid] for aid in sorted(self.available)}
        for _, call_id in heapq.merge(*self.order.values()):
            entry = self.entries[call_id]
            if entry.phase is not EntryPhase.WAITING:
                continue
            if entry.not_before is not None and entry.not_before > at:
                continue
            picks = self._pick(entry, free, at)
            if picks:
                self._offer(entry, picks, at)
                for agent in picks:
                    del free[agent.agent_id]
                if not free:
                    return

    def _pick(self, entry: QueueEntry, free: dict[str, Agent], at: datetime) -> list[Agent]:
        if entry.only_agent is not None:
            target = free.get(entry.only_agent)
            return [target] if target is not None else []
        config = self.queues[entry.queue]
        eligible = [a for a in free.values()
                    if a.profile.membership(entry.queue) is not None
                    and a.profile.has_skills(entry.skills)]
        fresh = [a for a in eligible if a.agent_id not in entry.tried]
        if not fresh and entry.retry_after is not None and at < entry.retry_after:
            return []  # everyone free just let it ring out: give them a breath (app_queue's retry)
        # Everyone free has already let this caller ring out: start another round with them.
        pool = fresh or eligible
        return choose(config, pool, self._waited(entry, at),
                      last_offered=self.rr_memory.get(entry.queue),
                      answered_today=self.answered_today[entry.queue], rng=self.rng)

    def _offer(self, entry: QueueEntry, picks: list[Agent], at: datetime) -> None:
        config = self.queues[entry.queue]
        timeout = config.ring_timeout_s
        waited = self._waited(entry, at)
        self.offer_seq += 1
        for agent in picks:
            self._set_agent(transition(agent, Action.OFFER, at, call_id=entry.call_id))
            self._cmds.append(cmd.RingAgent(
                entry.call_id, agent.agent_id, agent.endpoint, entry.caller.number,
                entry.caller.name, timeout, entry.queue, callback=entry.callback,
                offer=self.offer_seq))
            self._notes.append(nt.CallOffered(at, entry.call_id, entry.queue, agent.agent_id,
                                              entry.caller, entry.context, entry.callback,
                                              waited))
        if config.strategy is Strategy.ROUND_ROBIN:
            self.rr_memory[entry.queue] = member_key(entry.queue, picks[-1])
        tried = entry.tried
        if not {a.agent_id for a in picks} - tried:
            tried = frozenset()
        self._put(evolve(
            entry, phase=EntryPhase.OFFERED, offered_to=frozenset(a.agent_id for a in picks),
            offer_deadline=at + timedelta(seconds=timeout), tried=tried, retry_after=None,
            offer_id=self.offer_seq))

    def _on_declined(self, e: ev.AgentDeclined) -> None:
        entry = self.entries.get(e.call_id)
        if (entry is None or entry.phase is not EntryPhase.OFFERED
                or e.agent not in entry.offered_to
                or (e.offer is not None and e.offer != entry.offer_id)):
            call = self.calls.get(e.call_id)
            if call is not None and call.consult is not None and call.consult.target == e.agent:
                self._consult_failed(call, e.at)
            return  # the ring was already over (timeout, answered elsewhere)
        self._withdraw(e.agent, entry, e.at, "declined", unanswered=True)
        left = entry.offered_to - {e.agent}
        self._put(evolve(
            entry, offered_to=left, tried=entry.tried | {e.agent},
            phase=EntryPhase.OFFERED if left else EntryPhase.WAITING,
            offer_deadline=entry.offer_deadline if left else None,
            only_agent=None,
            retry_after=None if left else e.at + timedelta(
                seconds=self.queues[entry.queue].retry_s)))

    def _on_answered(self, e: ev.AgentAnswered) -> None:
        entry = self.entries.get(e.call_id)
        agent = self.agents.get(e.agent)
        if agent is None:
            raise AcdError(f"unknown agent {e.agent}")
        if (entry is None or entry.phase is not EntryPhase.OFFERED
                or e.agent not in entry.offered_to
                or (e.offer is not None and e.offer != entry.offer_id)):
            # A ring-all loser answering a moment after the winner, or a ring that timed out
            # while the phone was picked up (even if the same agent rings again for the same
            # call by now: the offer id tells the rounds apart): hang that leg up.
            self._cmds.append(cmd.CancelRing(e.call_id, e.agent))
            return
        for other in sorted(entry.offered_to - {e.agent}):
            self._cmds.append(cmd.CancelRing(e.call_id, other))
            self._withdraw(other, entry, e.at, "answered_elsewhere", unanswered=False)
        self._set_agent(evolve(
            transition(agent, Action.ANSWER, e.at, call_id=e.call_id), unanswered=0))
        counts = self.answered_today[entry.queue]
        counts[e.agent] = counts.get(e.agent, 0) + 1
        config = self.queues[entry.queue]
        if entry.callback:
            self._put(evolve(entry, phase=EntryPhase.DIALING,
                                          offered_to=frozenset({e.agent}), offer_deadline=None))
            self._cmds.append(cmd.DialResident(e.call_id, e.agent, entry.caller.number,
                                               entry.caller.name))
            return
        self._remove(entry)
        base = entry.priority
        if entry.only_agent is not None and base >= TRANSFER_PRIORITY_BOOST:
            base -= TRANSFER_PRIORITY_BOOST
        self.calls[e.call_id] = ActiveCall(e.call_id, entry.queue, e.agent, entry.caller,
                                           entry.context, e.at, priority=base)
        self._cmds.append(cmd.BridgeCall(e.call_id, e.agent, config.record))
        self._notes.append(nt.CallConnected(e.at, e.call_id, entry.queue, e.agent,
                                            self._waited(entry, e.at), False,
                                            transferred=entry.transferred))

    def _withdraw(self, agent_id: str, entry: QueueEntry, at: datetime, reason: str,
                  *, unanswered: bool) -> None:
        agent = self.agents[agent_id]
        count = agent.unanswered + 1 if unanswered else agent.unanswered
        limit = self.queues[entry.queue].autopause_after
        if unanswered and limit and count >= limit:
            new = transition(agent, Action.WITHDRAW, at, to=AgentStatus.PAUSED,
                             reason="autopause")
            new = evolve(new, unanswered=0, pending_pause=None)
        elif agent.pending_pause is not None:
            new = transition(agent, Action.WITHDRAW, at, to=AgentStatus.PAUSED,
                             reason=agent.pending_pause)
        else:
            new = evolve(transition(agent, Action.WITHDRAW, at), unanswered=count)
        self._notes.append(nt.OfferWithdrawn(at, entry.call_id, agent_id, reason))
        self._set_agent(new)

    def _cancel_offers(self, entry: QueueEntry, at: datetime, reason: str) -> None:
        if entry.phase is not EntryPhase.OFFERED:
            return
        for agent_id in sorted(entry.offered_to):
            self._cmds.append(cmd.CancelRing(entry.call_id, agent_id))
            self._withdraw(agent_id, entry, at, reason, unanswered=False)

    # --- connected calls ---------------------------------------------------------------------

    def _on_agent_hung_up(self, e: ev.AgentHungUp) -> None:
        call = self.calls.get(e.call_id)
        if (call is not None and call.consult is not None and call.consult.target == e.agent
                and call.agent != e.agent):
            self._consult_failed(call, e.at)  # the colleague hung up the consultation
            return
        if call is None or call.agent != e.agent:
            entry = self.entries.get(e.call_id)
            if entry is not None and entry.phase is EntryPhase.DIALING and e.agent in entry.offered_to:
                # The agent gave up on a callback being dialled: stop dialling, keep the place.
                self._cmds.append(cmd.HangupCall(e.call_id))
                agent = self.agents[e.agent]
                self._set_agent(transition(agent, Action.END_CALL, e.at,
                                           to=self._idle_target(agent),
                                           reason=agent.pending_pause or ""))
                self._put(evolve(entry, phase=EntryPhase.WAITING,
                                              offered_to=frozenset()))
            return
        if call.consult is not None and call.consult.answered:
            self._complete_transfer(call, e.at)  # hanging up mid-consult hands the caller over
            return
        if call.consult is not None:
            self._drop_consult(call, e.at, hang_up_leg=True)
        self._cmds.append(cmd.HangupCall(call.call_id))
        self._end_call(call, e.at, by="agent")

    def _on_hangup_requested(self, e: ev.HangupRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is not None:
            self._drop_consult(call, e.at, hang_up_leg=True)
        self._cmds.append(cmd.HangupCall(call.call_id))
        self._end_call(call, e.at, by="agent")

    def _end_call(self, call: ActiveCall, at: datetime, *, by: str) -> None:
        del self.calls[call.call_id]
        config = self.queues[call.queue]
        talk = (at - call.connected_at).total_seconds()
        previous = self.handle_s.get(call.queue, config.default_handle_s)
        self.handle_s[call.queue] = 0.8 * previous + 0.2 * (talk + config.wrapup_s)
        self._notes.append(nt.CallEnded(at, call.call_id, call.queue, call.agent, by, talk))
        agent = self.agents[call.agent]
        self.wrapup_queue[call.agent] = (call.call_id, call.queue)
        if config.wrapup_s > 0:
            new = transition(agent, Action.END_CALL, at, to=AgentStatus.WRAP_UP)
            self._set_agent(evolve(
                new, wrapup_until=at + timedelta(seconds=config.wrapup_s)))
        else:
            self._set_agent(transition(agent, Action.END_CALL, at, to=self._idle_target(agent),
                                       reason=agent.pending_pause or ""))

    def _on_hold(self, e: ev.HoldRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.held:
            raise AcdError(f"call {e.call_id} is already on hold")
        self.calls[call.call_id] = evolve(call, held=True)
        self._cmds.append(cmd.HoldCall(call.call_id, self.queues[call.queue].moh_class))
        self._notes.append(nt.CallHeld(e.at, call.call_id, call.agent, True))

    def _on_unhold(self, e: ev.UnholdRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if not call.held:
            raise AcdError(f"call {e.call_id} is not on hold")
        if call.consult is not None:
            raise AcdError(f"call {e.call_id}: finish or cancel the transfer first")
        self.calls[call.call_id] = evolve(call, held=False)
        self._cmds.append(cmd.UnholdCall(call.call_id))
        self._notes.append(nt.CallHeld(e.at, call.call_id, call.agent, False))

    def _on_transfer(self, e: ev.TransferRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is not None:
            raise AcdError(f"call {e.call_id}: a transfer is already in progress")
        target_agent: Agent | None = None
        if e.kind is ev.TargetKind.QUEUE:
            self._queue(e.target)
            if e.attended:
                raise AcdError("attended transfer to a queue: not supported, transfer blind")
        elif e.kind is ev.TargetKind.AGENT:
            target_agent = self.agents.get(e.target)
            if target_agent is None or target_agent.status is not AgentStatus.AVAILABLE:
                state = target_agent.status.value if target_agent else "unknown"
                raise AcdError(f"agent {e.target} is not available ({state})")
            if e.target == e.agent:
                raise AcdError("cannot transfer a call to yourself")
        elif not _valid_number(e.target):
            raise AcdError(f"external number: expected digits with an optional +, "
                           f"got {e.target!r}")
        config = self.queues[call.queue]
        if e.attended:
            assert e.kind is not ev.TargetKind.QUEUE
            deadline = e.at + timedelta(seconds=config.ring_timeout_s)
            if target_agent is not None:
                self._set_agent(transition(target_agent, Action.OFFER, e.at, call_id=e.call_id))
                endpoint = target_agent.endpoint
            else:
                endpoint = f"external:{e.target}"
            self.calls[call.call_id] = evolve(
                call, held=True, consult=Consult(e.kind, e.target, deadline=deadline))
            if not call.held:
                self._cmds.append(cmd.HoldCall(call.call_id, config.moh_class))
                self._notes.append(nt.CallHeld(e.at, call.call_id, call.agent, True))
            self._cmds.append(cmd.StartConsult(call.call_id, call.agent, endpoint))
            return
        self._notes.append(nt.CallTransferred(e.at, call.call_id, call.agent, e.kind.value,
                                              e.target, False))
        self._cmds.append(cmd.HangupAgentLeg(call.call_id, call.agent))
        if e.kind is ev.TargetKind.EXTERNAL:
            self._cmds.append(cmd.DialExternal(call.call_id, e.target))
            self._end_call(call, e.at, by="transfer")
            return
        self._end_call(call, e.at, by="transfer")
        queue = e.target if e.kind is ev.TargetKind.QUEUE else call.queue
        qconf = self.queues[queue]
        self.seq += 1
        entry = QueueEntry(
            call_id=call.call_id, queue=queue, caller=call.caller,
            priority=call.priority + (TRANSFER_PRIORITY_BOOST if target_agent else 0),
            seq=self.seq, joined_at=e.at, skills=qconf.required_skills, context=call.context,
            only_agent=e.target if target_agent else None, transferred=True,
            next_announce_at=self._first_announce(qconf, e.at))
        self._insert(entry)
        self._cmds.append(cmd.HoldInQueue(call.call_id, queue, bridge_name(queue),
                                          qconf.moh_class))
        self._notes.append(nt.CallQueued(e.at, call.call_id, queue, call.caller, entry.priority,
                                         False, call.context))

    def _on_consult_answered(self, e: ev.ConsultAnswered) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.consult is None or call.consult.answered:
            raise AcdError(f"call {e.call_id} has no consultation ringing")
        if call.consult.kind is ev.TargetKind.AGENT:
            target = self.agents[call.consult.target]
            self._set_agent(transition(target, Action.ANSWER, e.at, call_id=e.call_id))
        self.calls[call.call_id] = evolve(
            call, consult=evolve(call.consult, answered=True, deadline=None))

    def _on_consult_failed(self, e: ev.ConsultFailed) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.consult is None:
            return
        self._consult_failed(call, e.at)

    def _consult_failed(self, call: ActiveCall, at: datetime) -> None:
        self._drop_consult(call, at, hang_up_leg=True)
        self.calls[call.call_id] = evolve(self.calls[call.call_id], held=False)
        self._notes.append(nt.CallHeld(at, call.call_id, call.agent, False))

    def _drop_consult(self, call: ActiveCall, at: datetime, *, hang_up_leg: bool) -> None:
        """Release the consultation target (and hang up its leg)."""
        consult = call.consult
        assert consult is not None
        if hang_up_leg:
            self._cmds.append(cmd.CancelConsult(call.call_id, call.agent))
        if consult.kind is ev.TargetKind.AGENT:
            target = self.agents[consult.target]
            if target.status is AgentStatus.RESERVED:
                self._set_agent(transition(target, Action.WITHDRAW, at))
            elif target.status is AgentStatus.ON_CALL and target.call_id == call.call_id:
                self._set_agent(transition(target, Action.END_CALL, at,
                                           to=self._idle_target(target),
                                           reason=target.pending_pause or ""))
        if call.call_id in self.calls:
            self.calls[call.call_id] = evolve(self.calls[call.call_id], consult=None)

    def _on_transfer_completed(self, e: ev.TransferCompleted) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is None or not call.consult.answered:
            raise AcdError(f"call {e.call_id}: the transfer target has not answered yet")
        self._complete_transfer(call, e.at)

    def _complete_transfer(self, call: ActiveCall, at: datetime) -> None:
        consult = call.consult
        assert consult is not None
        self._cmds.append(cmd.CompleteConsult(call.call_id, call.agent))
        self._notes.append(nt.CallTransferred(at, call.call_id, call.agent, consult.kind.value,
                                              consult.target, True))
        self._end_call(call, at, by="transfer")
        if consult.kind is ev.TargetKind.AGENT:
            # The call goes on with the colleague; it is theirs from now on.
            self.calls[call.call_id] = evolve(
                call, agent=consult.target, consult=None, held=False, connected_at=at)
            self._notes.append(nt.CallConnected(at, call.call_id, call.queue, consult.target,
                                                0.0, call.callback, transferred=True))

    def _on_transfer_cancelled(self, e: ev.TransferCancelled) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is None:
            raise AcdError(f"call {e.call_id} has no transfer in progress")
        self._consult_failed(call, e.at)

    def _on_snoop(self, e: ev.SnoopRequested) -> None:
        call = self.calls.get(e.call_id)
        if call is None:
            raise AcdError(f"call {e.call_id} is not connected to an agent")
        self._cmds.append(cmd.Snoop(e.call_id, call.agent, e.supervisor, e.endpoint, e.mode))

    # --- agents ------------------------------------------------------------------------------

    def _on_login(self, e: ev.AgentLoggedIn) -> None:
        current = self.agents.get(e.profile.agent_id)
        if current is not None and current.status is not AgentStatus.OFFLINE:
            raise AcdError(f"agent {e.profile.agent_id} is already logged in "
                           f"({current.status.value})")
        if not e.endpoint:
            raise AcdError(f"agent {e.profile.agent_id}: expected an endpoint to ring")
        unknown = [m.queue for m in e.profile.memberships if m.queue not in self.queues]
        if unknown:
            raise AcdError(f"agent {e.profile.agent_id}: unknown queue(s) {', '.join(unknown)}")
        base = current if current is not None else Agent(e.profile)
        base = evolve(base, profile=e.profile, endpoint=e.endpoint)
        to = AgentStatus.PAUSED if e.paused_reason else AgentStatus.AVAILABLE
        self._set_agent(transition(base, Action.LOGIN, e.at, to=to,
                                   reason=e.paused_reason or ""))

    def _on_logout(self, e: ev.AgentLoggedOut) -> None:
        agent = self._agent(e.agent)
        if agent.status is AgentStatus.ON_CALL:
            raise AcdError(f"agent {e.agent} is on a call; pause after the call instead")
        new = transition(agent, Action.LOGOUT, e.at,
                         reason=f"forced by {e.by}" if e.by else "")
        if agent.status is AgentStatus.RESERVED and agent.call_id is not None:
            self._release_ring(agent, e.at, "logout")
        self._finish_wrapup_record(agent, e.at)
        self._set_agent(new, reason=f"forced by {e.by}" if e.by else "")
        self._leave_when_empty(agent, e.at)

    def _release_ring(self, agent: Agent, at: datetime, reason: str) -> None:
        assert agent.call_id is not None
        self._cmds.append(cmd.CancelRing(agent.call_id, agent.agent_id))
        self._notes.append(nt.OfferWithdrawn(at, agent.call_id, agent.agent_id, reason))
        entry = self.entries.get(agent.call_id)
        if entry is not None and agent.agent_id in entry.offered_to:
            left = entry.offered_to - {agent.agent_id}
            self._put(evolve(
                entry, offered_to=left, phase=EntryPhase.OFFERED if left else EntryPhase.WAITING,
                offer_deadline=entry.offer_deadline if left else None, only_agent=None))
            return
        call = self.calls.get(agent.call_id)
        if call is not None and call.consult is not None and call.consult.target == agent.agent_id:
            self._cmds.append(cmd.CancelConsult(call.call_id, call.agent))
            self.calls[call.call_id] = evolve(call, consult=None, held=False)
            self._notes.append(nt.CallHeld(at, call.call_id, call.agent, False))

    def _on_paused(self, e: ev.AgentPaused) -> None:
        agent = self._agent(e.agent)
        if not e.reason:
            raise AcdError("pause: expected a reason")
        reason = f"{e.reason} (forced by {e.by})" if e.by else e.reason
        if agent.status in (AgentStatus.ON_CALL, AgentStatus.RESERVED):
            self._set_agent(evolve(agent, pending_pause=reason),
                            reason=f"pause pending: {reason}")
            return
        new = transition(agent, Action.PAUSE, e.at, reason=reason)
        if agent.status is AgentStatus.WRAP_UP:
            self._finish_wrapup_record(agent, e.at)
        self._set_agent(new)
        self._leave_when_empty(agent, e.at)

    def _on_ready(self, e: ev.AgentReady) -> None:
        agent = self._agent(e.agent)
        if agent.pending_pause is not None:
            self._set_agent(evolve(agent, pending_pause=None))
            return
        self._set_agent(evolve(transition(agent, Action.READY, e.at), unanswered=0))

    def _on_wrapup_completed(self, e: ev.WrapUpCompleted) -> None:
        agent = self._agent(e.agent)
        if agent.status is not AgentStatus.WRAP_UP:
            raise AcdError(f"agent {e.agent} is not in wrap-up ({agent.status.value})")
        _, queue = self.wrapup_queue.get(e.agent, ("", ""))
        codes = self.queues[queue].dispositions if queue in self.queues else frozenset()
        if codes and e.disposition not in codes:
            raise AcdError(f"disposition {e.disposition!r} is not one of "
                           f"{', '.join(sorted(codes))}")
        self._end_wrapup(agent, e.at, e.disposition, e.notes)

    def _end_wrapup(self, agent: Agent, at: datetime, disposition: str, notes: str) -> None:
        new = transition(agent, Action.END_WRAPUP, at, to=self._idle_target(agent),
                         reason=agent.pending_pause or "")
        call_id, _ = self.wrapup_queue.pop(agent.agent_id, (None, ""))
        self._notes.append(nt.WrapUpDone(at, agent.agent_id, call_id, disposition, notes))
        self._set_agent(new)

    def _finish_wrapup_record(self, agent: Agent, at: datetime) -> None:
        if agent.status is AgentStatus.WRAP_UP:
            call_id, _ = self.wrapup_queue.pop(agent.agent_id, (None, ""))
            self._notes.append(nt.WrapUpDone(at, agent.agent_id, call_id, "", ""))

    def _leave_when_empty(self, agent: Agent, at: datetime) -> None:
        for m in agent.profile.memberships:
            config = self.queues[m.queue]
            if not config.leave_when_empty or self.staffed(m.queue):
                continue
            for _, call_id in list(self.order[m.queue]):
                entry = self.entries[call_id]
                if entry.callback or entry.phase is not EntryPhase.WAITING:
                    continue
                self._remove(entry)
                self._reject(call_id, m.queue, "no_agents", at)

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _idle_target(agent: Agent) -> AgentStatus:
        return AgentStatus.PAUSED if agent.pending_pause is not None else AgentStatus.AVAILABLE

    @staticmethod
    def _counts_as_staff(agent: Agent, config: QueueConfig) -> bool:
        if agent.status is AgentStatus.OFFLINE:
            return False
        if agent.status is AgentStatus.PAUSED and config.paused_counts_as_empty:
            return False
        return agent.profile.membership(config.name) is not None

    def _set_agent(self, agent: Agent, *, reason: str | None = None) -> None:
        self.agents[agent.agent_id] = agent
        if agent.status is AgentStatus.AVAILABLE:
            self.available.add(agent.agent_id)
        else:
            self.available.discard(agent.agent_id)
        assert self._at is not None
        note = nt.AgentStateChanged(self._at, agent.agent_id, agent.status.value,
                                    agent.reason if reason is None else reason, agent.call_id)
        self._notes.append(note)
        history = self.history.setdefault(agent.agent_id, [])
        history.append(note)
        if len(history) > HISTORY_LIMIT:
            del history[: len(history) - HISTORY_LIMIT]

    def _queue(self, name: str) -> QueueConfig:
        config = self.queues.get(name)
        if config is None:
            raise AcdError(f"unknown queue {name!r} (known: {', '.join(sorted(self.queues))})")
        return config

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise AcdError(f"agent {agent_id} has never logged in")
        return agent

    def _agent_call(self, call_id: str, agent_id: str) -> ActiveCall:
        call = self.calls.get(call_id)
        if call is None:
            raise AcdError(f"call {call_id} is not connected")
        if call.agent != agent_id:
            raise AcdError(f"call {call_id} belongs to agent {call.agent}, not {agent_id}")
        return call

    @staticmethod
    def _waited(entry: QueueEntry, at: datetime) -> float:
        return max(0.0, (at - entry.joined_at).total_seconds())

    def _insert(self, entry: QueueEntry) -> None:
        self.entries[entry.call_id] = entry
        order = self.order[entry.queue]
        item = (entry.sort_key, entry.call_id)
        # Entries mostly arrive at the back: append unless the key sorts earlier (priority).
        if not order or order[-1] < item:
            order.append(item)
        else:
            bisect.insort(order, item)

    def _put(self, entry: QueueEntry) -> None:
        self.entries[entry.call_id] = entry

    def _remove(self, entry: QueueEntry) -> None:
        del self.entries[entry.call_id]
        self.order[entry.queue].remove((entry.sort_key, entry.call_id))

    def waiting(self, queue: str) -> Iterator[QueueEntry]:
        for _, call_id in self.order[queue]:
            yield self.entries[call_id]


def _valid_number(number: str) -> bool:
    digits = number[1:] if number.startswith("+") else number
    return digits.isdigit() and 3 <= len(digits) <= 15


__all__ = ["Acd", "AcdError", "ActiveCall", "IllegalTransition", "Step", "bridge_name"]
