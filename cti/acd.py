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

This module is the dispatcher proper (time, callers, offers); connected calls are handled in
`cti.call_control`, agents' own requests in `cti.agent_desk`, the shared state in `cti.floor`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cti import commands as cmd
from cti import events as ev
from cti import notices as nt
from cti.agent import Action, Agent, AgentStatus, IllegalTransition, transition
from cti.agent_desk import AgentDesk
from cti.call_control import CallControl
from cti.config import Caller, QueueConfig, Strategy
from cti.floor import (
    TRANSFER_PRIORITY_BOOST,
    WARSAW,
    AcdError,
    ActiveCall,
    Consult,
    Step,
    bridge_name,
    valid_number,
)
from cti.frozen import evolve
from cti.queue import EntryPhase, QueueEntry, choose, member_key


class Acd(AgentDesk, CallControl):
    def __init__(
        self, queues: Iterable[QueueConfig] = (), *, seed: int = 0, tz: ZoneInfo = WARSAW
    ) -> None:
        super().__init__(seed=seed, tz=tz)
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
            ev.WrapUpExtended: self._on_wrapup_extended,
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

    def fork(self) -> Acd:
        """An independent copy (for what-if questions and tests); records are immutable, so
        copying the containers is enough."""
        twin = Acd(self.queues.values(), seed=self.seed, tz=self.tz)
        twin.agents = dict(self.agents)
        twin.available = set(self.available)
        twin.entries = dict(self.entries)
        twin.calls = dict(self.calls)
        twin.order = {q: list(o) for q, o in self.order.items()}
        twin.rr_memory = dict(self.rr_memory)
        twin.answered_today = {q: dict(c) for q, c in self.answered_today.items()}
        twin.handle_s = dict(self.handle_s)
        twin.history = {a: list(h) for a, h in self.history.items()}
        twin.wrapup_queue = dict(self.wrapup_queue)
        twin.seq, twin.offer_seq, twin.day, twin.now = (self.seq, self.offer_seq, self.day,
                                                        self.now)
        twin._day_bounds = self._day_bounds
        twin.rng.setstate(self.rng.getstate())
        return twin

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
                # A penalty step widening the circle of agents is a moment to look again.
                for step in config.penalty_steps:
                    opens = e.joined_at + timedelta(seconds=step.after_s)
                    if self.now is None or opens > self.now:
                        times.append(opens)
                        break
                if e.callback:
                    continue
                if e.next_announce_at is not None and config.announce_every_s is not None:
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

    # --- configuration and time --------------------------------------------------------------

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
        if not valid_number(number):
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
        if not valid_number(e.caller.number):
            raise AcdError(f"callback: expected a phone number (digits, optional +), "
                           f"got {e.caller.number!r}")
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
        self._notes.append(nt.CallbackAttempted(e.at, e.call_id, entry.queue, agent_id, True,
                                                entry.attempts + 1, True))
        self._notes.append(nt.CallConnected(e.at, e.call_id, entry.queue, agent_id,
                                            self._waited(entry, e.at), True))

    def _on_resident_unreachable(self, e: ev.ResidentUnreachable) -> None:
        entry = self.entries.get(e.call_id)
        if entry is None or entry.phase is not EntryPhase.DIALING:
            return  # a late failure report for a callback we already settled
        self._resident_unreachable(entry, e.at)

    def _resident_unreachable(self, entry: QueueEntry, at: datetime) -> None:
        config = self.queues[entry.queue]
        for agent_id in sorted(entry.offered_to):
            agent = self.agents[agent_id]
            # The consultant answered and waited for the resident: their leg goes too.
            self._cmds.append(cmd.HangupAgentLeg(entry.call_id, agent_id))
            self._set_agent(transition(agent, Action.END_CALL, at, to=self._idle_target(agent),
                                       reason=agent.pending_pause or ""))
        attempts = entry.attempts + 1
        for agent_id in sorted(entry.offered_to):
            self._notes.append(nt.CallbackAttempted(at, entry.call_id, entry.queue, agent_id,
                                                    False, attempts,
                                                    attempts >= config.callback_attempts))
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


__all__ = ["WARSAW", "Acd", "AcdError", "ActiveCall", "Consult", "IllegalTransition", "Step",
           "bridge_name"]
