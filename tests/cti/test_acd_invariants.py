"""Hypothesis drives the ACD with random sequences of telephony and desktop events.

Whatever happens: no call rings two agents at once (except ring-all), no agent rings or talks for
two calls, an illegal event leaves the state exactly as it was, and a snapshot restores to the
same state.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cti import commands as cmd
from cti import events as ev
from cti import snapshot
from cti.acd import AcdError, Step
from cti.agent import AgentStatus
from cti.config import AgentProfile, Caller, Membership, PenaltyStep, QueueConfig, Strategy
from cti.drill import Drill
from cti.queue import EntryPhase

QUEUES = (
    QueueConfig("roads", strategy=Strategy.LONGEST_IDLE, ring_timeout_s=10, wrapup_s=5,
                max_length=6, overflow_after_s=40, overflow_queue="general",
                announce_every_s=15, autopause_after=2),
    QueueConfig("general", strategy=Strategy.RING_ALL, ring_timeout_s=8, wrapup_s=0,
                overflow_after_s=60, overflow_to_callback=True),
    QueueConfig("water", strategy=Strategy.ROUND_ROBIN, ring_timeout_s=12, wrapup_s=3,
                callback_attempts=2, callback_retry_s=20, leave_when_empty=True),
)
# Supervisors edit queues while callers wait: same names, other rules (never ring-all, so
# the one-ring-per-call check keeps its meaning for the queues that are not ring-all).
VARIANTS = (
    QueueConfig("roads", strategy=Strategy.FEWEST_CALLS, ring_timeout_s=5, wrapup_s=0,
                max_length=2, announce_every_s=None, overflow_after_s=None, retry_s=0),
    QueueConfig("water", strategy=Strategy.LINEAR, ring_timeout_s=6, wrapup_s=2,
                join_when_empty=False, leave_when_empty=True, paused_counts_as_empty=True,
                announce_every_s=7, announce_only_when_improves=False,
                overflow_after_s=15, overflow_queue="roads"),
    QueueConfig("water", strategy=Strategy.RANDOM, penalty_steps=(PenaltyStep(20, 1),)),
)
RING_ALL = {q.name for q in QUEUES if q.strategy is Strategy.RING_ALL}
AGENTS = ["a1", "a2", "a3", "a4"]
CALLS = [f"c{i}" for i in range(8)]

agents = st.sampled_from(AGENTS)
calls = st.sampled_from(CALLS)
queues = st.sampled_from([q.name for q in QUEUES])


class AcdMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.d = Drill(*QUEUES, seed=3)
        self.ringing: dict[str, str] = {}  # agent -> call, as the pbx adapter would see it
        self.ring_queue: dict[str, str] = {}  # call -> queue of its rings

    def send(self, event: ev.AcdEvent) -> None:
        before = snapshot.dumps(self.d.acd)
        try:
            step = self.d.acd.handle(event)
        except AcdError:
            assert snapshot.dumps(self.d.acd) == before, f"{event} changed state and failed"
            return
        self.follow(step, event)

    def follow(self, step: Step, event: ev.AcdEvent) -> None:
        if (isinstance(event, ev.AgentAnswered | ev.AgentDeclined)
                and self.ringing.get(event.agent) == event.call_id):
            del self.ringing[event.agent]
        for c in step.commands:
            note_event(type(c).__name__)
            if isinstance(c, cmd.CancelRing):
                if self.ringing.get(c.agent) == c.call_id:
                    del self.ringing[c.agent]
            elif isinstance(c, cmd.RingAgent):
                assert c.agent not in self.ringing, f"{c.agent} rung twice"
                if c.queue not in RING_ALL:
                    assert c.call_id not in self.ringing.values(), f"{c.call_id} rings twice"
                self.ringing[c.agent] = c.call_id

    @rule(agent=agents, q=st.lists(queues, min_size=1, max_size=3, unique=True),
          skill=st.integers(0, 3), paused=st.sampled_from([False, False, False, True]))
    def login(self, agent: str, q: list[str], skill: int, paused: bool) -> None:
        profile = AgentProfile(agent, agent, {"english": skill},
                               tuple(Membership(n, penalty=i % 2, position=i)
                                     for i, n in enumerate(q)))
        self.send(ev.AgentLoggedIn(self.d.t, profile, f"PJSIP/{agent}",
                                   "break" if paused else None))

    @rule(agent=agents, forced=st.booleans())
    def logout(self, agent: str, forced: bool) -> None:
        self.send(ev.AgentLoggedOut(self.d.t, agent, "boss" if forced else None))

    @rule(agent=agents)
    def pause(self, agent: str) -> None:
        self.send(ev.AgentPaused(self.d.t, agent, "coffee"))

    @rule(agent=agents)
    def ready(self, agent: str) -> None:
        self.send(ev.AgentReady(self.d.t, agent))

    @rule(call=calls, q=queues, priority=st.integers(0, 2))
    def enqueue(self, call: str, q: str, priority: int) -> None:
        self.send(ev.CallEnqueued(self.d.t, call, q, Caller("+48220000000"), priority))

    @rule(call=calls)
    def caller_hangs_up(self, call: str) -> None:
        self.send(ev.CallerHungUp(self.d.t, call))

    @precondition(lambda self: bool(self.ringing))
    @rule(data=st.data())
    def answer_a_ringing_phone(self, data: st.DataObject) -> None:
        agent = data.draw(st.sampled_from(sorted(self.ringing)))
        self.send(ev.AgentAnswered(self.d.t, self.ringing[agent], agent))

    @rule(call=calls, agent=agents, action=st.sampled_from(
        ["answer", "decline", "agent_hangup", "hold", "unhold", "transfer", "attended",
         "complete", "cancel", "consult", "wrap_up", "callback", "resident", "unreachable"]))
    def any_event_for_any_call(self, call: str, agent: str, action: str) -> None:
        """Stale and wrong events: races, double clicks, a desktop out of date."""
        t = self.d.t
        event: ev.AcdEvent = {
            "answer": lambda: ev.AgentAnswered(t, call, agent),
            "decline": lambda: ev.AgentDeclined(t, call, agent),
            "agent_hangup": lambda: ev.AgentHungUp(t, call, agent),
            "hold": lambda: ev.HoldRequested(t, call, agent),
            "unhold": lambda: ev.UnholdRequested(t, call, agent),
            "transfer": lambda: ev.TransferRequested(t, call, agent, ev.TargetKind.AGENT, "a1"),
            "attended": lambda: ev.TransferRequested(t, call, agent, ev.TargetKind.EXTERNAL,
                                                     "+48221112233", True),
            "complete": lambda: ev.TransferCompleted(t, call, agent),
            "cancel": lambda: ev.TransferCancelled(t, call, agent),
            "consult": lambda: ev.ConsultAnswered(t, call),
            "wrap_up": lambda: ev.WrapUpCompleted(t, agent, "resolved"),
            "callback": lambda: ev.CallbackRequested(t, call, "+48225556677"),
            "resident": lambda: ev.ResidentAnswered(t, call),
            "unreachable": lambda: ev.ResidentUnreachable(t, call),
        }[action]()
        self.send(event)

    # --- the same actions aimed at calls that exist, so deep states are reached often ---

    @precondition(lambda self: bool(self.d.acd.calls))
    @rule(data=st.data(), action=st.sampled_from(
        ["hold", "unhold", "hangup", "agent_hangup", "caller_hangup", "blind", "attended",
         "consult_answered", "consult_failed", "complete", "cancel"]),
        dest=st.sampled_from([*AGENTS, "water", "+48221112233"]))
    def act_on_a_connected_call(self, data: st.DataObject, action: str, dest: str) -> None:
        call = self.d.acd.calls[data.draw(st.sampled_from(sorted(self.d.acd.calls)))]
        t, cid, agent = self.d.t, call.call_id, call.agent
        free = sorted(a.agent_id for a in self.d.acd.agents.values()
                      if a.status is AgentStatus.AVAILABLE)
        if dest in AGENTS and free:
            dest = data.draw(st.sampled_from(free))
        kind = (ev.TargetKind.AGENT if dest in AGENTS else
                ev.TargetKind.EXTERNAL if dest.startswith("+") else ev.TargetKind.QUEUE)
        event: ev.AcdEvent = {
            "hold": lambda: ev.HoldRequested(t, cid, agent),
            "unhold": lambda: ev.UnholdRequested(t, cid, agent),
            "hangup": lambda: ev.HangupRequested(t, cid, agent),
            "agent_hangup": lambda: ev.AgentHungUp(t, cid, agent),
            "caller_hangup": lambda: ev.CallerHungUp(t, cid),
            "blind": lambda: ev.TransferRequested(t, cid, agent, kind, dest),
            "attended": lambda: ev.TransferRequested(t, cid, agent, kind, dest, True),
            "consult_answered": lambda: ev.ConsultAnswered(t, cid),
            "consult_failed": lambda: ev.ConsultFailed(t, cid),
            "complete": lambda: ev.TransferCompleted(t, cid, agent),
            "cancel": lambda: ev.TransferCancelled(t, cid, agent),
        }[action]()
        self.send(event)

    @precondition(lambda self: any(a.status is AgentStatus.WRAP_UP
                                   for a in self.d.acd.agents.values()))
    @rule(data=st.data())
    def finish_a_wrap_up(self, data: st.DataObject) -> None:
        agent = data.draw(st.sampled_from(sorted(
            a.agent_id for a in self.d.acd.agents.values() if a.status is AgentStatus.WRAP_UP)))
        self.send(ev.WrapUpCompleted(self.d.t, agent, "resolved"))

    @precondition(lambda self: bool(self.d.acd.entries))
    @rule(data=st.data(), reached=st.booleans(), callback=st.booleans())
    def act_on_a_queue_entry(self, data: st.DataObject, reached: bool, callback: bool) -> None:
        cid = data.draw(st.sampled_from(sorted(self.d.acd.entries)))
        if callback:
            self.send(ev.CallbackRequested(self.d.t, cid, "+48225556677"))
        else:
            kind = ev.ResidentAnswered if reached else ev.ResidentUnreachable
            self.send(kind(self.d.t, cid))

    @rule(variant=st.sampled_from(VARIANTS))
    def supervisor_edits_a_queue(self, variant: QueueConfig) -> None:
        self.send(ev.QueueConfigured(self.d.t, variant))

    @rule(seconds=st.sampled_from([1, 5, 10, 30]))
    def time_passes(self, seconds: int) -> None:
        self.d.t += timedelta(seconds=seconds)
        self.send(ev.Tick(self.d.t))
        # A tick consumes everything due: otherwise the switchboard's timer would spin.
        deadline = self.d.acd.next_deadline()
        assert deadline is None or deadline > self.d.t, (deadline, self.d.t)

    @invariant()
    def one_call_per_agent_and_one_agent_per_call(self) -> None:
        acd = self.d.acd
        assert not set(acd.entries) & set(acd.calls)
        for entry in acd.entries.values():
            if entry.phase is EntryPhase.OFFERED:
                assert entry.offered_to
                if entry.queue not in RING_ALL and entry.only_agent is None:
                    assert len(entry.offered_to) == 1
                for a in entry.offered_to:
                    assert acd.agents[a].status is AgentStatus.RESERVED
                    assert acd.agents[a].call_id == entry.call_id
            else:
                assert entry.phase is EntryPhase.DIALING or not entry.offered_to
        busy: dict[str, list[str]] = {}
        for agent in acd.agents.values():
            if agent.status in (AgentStatus.RESERVED, AgentStatus.ON_CALL):
                assert agent.call_id is not None
                busy.setdefault(agent.call_id, []).append(agent.agent_id)
        for call_id, who in busy.items():
            call = acd.calls.get(call_id)
            entry = acd.entries.get(call_id)
            if call is not None:
                expected = {call.agent} | ({call.consult.target} if call.consult and
                                           call.consult.kind is ev.TargetKind.AGENT else set())
                assert set(who) <= expected, (call_id, who)
            else:
                assert entry is not None, (call_id, who)
                assert set(who) == set(entry.offered_to)
        for call in acd.calls.values():
            assert acd.agents[call.agent].call_id == call.call_id
        for q, order in acd.order.items():
            assert order == sorted(order)
            assert all(acd.entries[cid].queue == q for _, cid in order)
        assert sum(len(o) for o in acd.order.values()) == len(acd.entries)
        assert acd.available == {a.agent_id for a in acd.agents.values()
                                 if a.status is AgentStatus.AVAILABLE}

    @invariant()
    def nobody_waits_while_a_suitable_agent_is_free(self) -> None:
        acd = self.d.acd
        now = acd.now
        if now is None:
            return
        for e in acd.entries.values():
            if e.phase is not EntryPhase.WAITING or e.only_agent is not None:
                continue
            if any(t is not None and t > now for t in (e.not_before, e.retry_after)):
                continue
            limit = acd.queues[e.queue].max_penalty((now - e.joined_at).total_seconds())
            for agent_id in acd.available:
                profile = acd.agents[agent_id].profile
                member = profile.membership(e.queue)
                assert not (member is not None and profile.has_skills(e.skills)
                            and (limit is None or member.penalty <= limit)), (
                    f"{e.call_id} waits in {e.queue} while {agent_id} is free")

    @invariant()
    def nothing_happens_before_the_next_deadline(self) -> None:
        """The switchboard only ticks at next_deadline(): a tick earlier must change nothing,
        or some timed behaviour (a timeout, a penalty step, a callback) would be missed."""
        acd = self.d.acd
        now = acd.now
        if now is None:
            return
        deadline = acd.next_deadline()
        if deadline is not None and deadline <= now:
            return
        probe = now + (deadline - now) / 2 if deadline else now + timedelta(hours=1)
        twin = acd.fork()
        step = twin.handle(ev.Tick(probe))
        assert step == Step(), f"at {probe} (deadline {deadline}): {step}"

    @invariant()
    def snapshot_round_trips(self) -> None:
        text = snapshot.dumps(self.d.acd)
        restored = snapshot.loads(text, self.d.acd.queues.values(), seed=3)
        for call_id, entry in self.d.acd.entries.items():
            assert restored.position(call_id) == self.d.acd.position(call_id)
            assert restored.entries[call_id].caller == entry.caller


AcdMachine.TestCase.settings = settings(
    max_examples=120, stateful_step_count=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestAcdMachine = AcdMachine.TestCase
