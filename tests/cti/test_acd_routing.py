"""Routing: who rings, in which order, and what the caller hears while waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cti import commands as cmd
from cti import events as ev
from cti import notices as nt
from cti.acd import AcdError
from cti.config import PenaltyStep, QueueConfig, SkillRequirement, Strategy
from cti.drill import Drill, of, rings


def test_caller_waits_in_the_queue_bridge_with_its_music_until_an_agent_logs_in() -> None:
    d = Drill(QueueConfig("roads", moh_class="calm"))
    step = d.call("c1", "roads")
    assert of(step, cmd.HoldInQueue) == [cmd.HoldInQueue("c1", "roads", "ckm-queue-roads", "calm")]
    assert rings(step) == []
    step = d.login("anna", "roads")
    ring = of(step, cmd.RingAgent)[0]
    assert isinstance(ring, cmd.RingAgent)
    assert (ring.agent, ring.endpoint, ring.caller_name) == ("anna", "PJSIP/anna", "Jan Kowalski")
    assert d.status("anna") == "reserved"
    step = d.answer("c1", "anna")
    assert of(step, cmd.BridgeCall) == [cmd.BridgeCall("c1", "anna", False)]
    assert d.status("anna") == "on_call"


def test_longest_idle_agent_gets_the_call() -> None:
    d = Drill(QueueConfig("q", strategy=Strategy.LONGEST_IDLE, wrapup_s=0))
    d.login("anna", "q")
    d.advance(5)
    d.login("bart", "q")
    d.advance(5)
    assert rings(d.call("c1", "q")) == [("c1", "anna")]
    d.answer("c1", "anna")
    d.advance(30)
    d.hangup("c1")  # anna is idle again, but only since now: bart waited longer
    assert rings(d.call("c2", "q")) == [("c2", "bart")]


def test_round_robin_remembers_who_was_offered_last() -> None:
    d = Drill(QueueConfig("q", strategy=Strategy.ROUND_ROBIN, wrapup_s=0))
    for i, name in enumerate(["anna", "bart", "celina"]):
        d.login(name, "q", position=i)
    order = []
    for n in range(5):
        step = d.call(f"c{n}", "q")
        ((_, agent),) = rings(step)
        order.append(agent)
        d.answer(f"c{n}", agent)
        d.hangup(f"c{n}")
    assert order == ["anna", "bart", "celina", "anna", "bart"]


def test_linear_always_starts_from_the_first_member() -> None:
    d = Drill(QueueConfig("q", strategy=Strategy.LINEAR, wrapup_s=0))
    d.login("zofia", "q", position=0)
    d.login("adam", "q", position=1)
    for n in range(3):
        assert rings(d.call(f"c{n}", "q")) == [(f"c{n}", "zofia")]
        d.answer(f"c{n}", "zofia")
        d.hangup(f"c{n}")


def test_fewest_calls_balances_answered_calls() -> None:
    d = Drill(QueueConfig("q", strategy=Strategy.FEWEST_CALLS, wrapup_s=0))
    d.login("anna", "q")
    d.login("bart", "q")
    d.call("c1", "q")
    d.answer("c1", "anna")
    d.hangup("c1")  # anna now idle most recently? no matter: she has one call, bart none
    d.advance(60)
    assert rings(d.call("c2", "q")) == [("c2", "bart")]


def test_random_strategy_is_deterministic_for_a_seed() -> None:
    def picks(seed: int) -> list[str]:
        d = Drill(QueueConfig("q", strategy=Strategy.RANDOM, wrapup_s=0), seed=seed)
        for name in ["a1", "a2", "a3", "a4", "a5"]:
            d.login(name, "q")
        out = []
        for n in range(8):
            ((_, agent),) = rings(d.call(f"c{n}", "q"))
            out.append(agent)
            d.answer(f"c{n}", agent)
            d.hangup(f"c{n}")
        return out

    assert picks(7) == picks(7)
    assert len(set(picks(7))) > 1


def test_ring_all_rings_everyone_and_the_first_answer_wins() -> None:
    d = Drill(QueueConfig("q", strategy=Strategy.RING_ALL))
    for name in ["anna", "bart", "celina"]:
        d.login(name, "q")
    step = d.call("c1", "q")
    assert sorted(a for _, a in rings(step)) == ["anna", "bart", "celina"]
    step = d.answer("c1", "bart")
    assert sorted(c.agent for c in of(step, cmd.CancelRing)) == ["anna", "celina"]  # type: ignore[attr-defined]
    assert [d.status(a) for a in ["anna", "bart", "celina"]] == ["available", "on_call",
                                                                "available"]
    late = d.answer("c1", "anna")  # picked up a moment too late
    assert of(late, cmd.CancelRing) == [cmd.CancelRing("c1", "anna")]
    assert d.status("anna") == "available"
    assert d.acd.calls["c1"].agent == "bart"


def test_skills_route_to_the_agent_who_has_them() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q", skills={"english": 1})
    d.login("bart", "q", skills={"english": 5})
    step = d.call("c1", "q", skills=(SkillRequirement("english", 3),))
    assert rings(step) == [("c1", "bart")]


def test_a_caller_nobody_can_serve_does_not_block_the_next_one() -> None:
    d = Drill(QueueConfig("q"))
    d.call("c1", "q", skills=(SkillRequirement("ukrainian"),))
    d.call("c2", "q")
    assert rings(d.login("anna", "q")) == [("c2", "anna")]


def test_higher_priority_callers_are_served_first() -> None:
    d = Drill(QueueConfig("q"))
    d.call("c1", "q")
    d.call("c2", "q", priority=5)
    d.call("c3", "q")
    assert d.acd.position("c2") == 1
    assert rings(d.login("anna", "q")) == [("c2", "anna")]


def test_penalties_keep_generalists_back_until_the_caller_waited_long_enough() -> None:
    d = Drill(QueueConfig("q", penalty_steps=(PenaltyStep(30, 5),)))
    d.login("generalist", ("q", 5))
    assert rings(d.call("c1", "q")) == []
    assert d.acd.next_deadline() == d.t + timedelta(seconds=30)  # the timer wakes up for it
    assert rings(d.advance(29)) == []
    assert rings(d.advance(1)) == [("c1", "generalist")]


def test_lower_penalty_members_are_preferred() -> None:
    d = Drill(QueueConfig("q"))
    d.login("backup", ("q", 2))
    d.login("specialist", ("q", 0))
    assert rings(d.call("c1", "q")) == [("c1", "specialist")]


def test_ring_timeout_moves_on_to_the_next_agent_and_autopauses_after_n_misses() -> None:
    d = Drill(QueueConfig("q", ring_timeout_s=10, autopause_after=2))
    d.login("anna", "q")
    d.advance(1)
    d.login("bart", "q")
    assert rings(d.call("c1", "q")) == [("c1", "anna")]
    step = d.advance(10)
    assert of(step, cmd.CancelRing) == [cmd.CancelRing("c1", "anna")]
    assert rings(step) == [("c1", "bart")]
    step = d.advance(10)
    assert rings(step) == []  # both let it ring out: a breath (retry_s) before the next round
    step = d.advance(5)
    assert rings(step) == [("c1", "anna")]
    step = d.advance(10)  # anna misses twice in a row: auto-paused
    assert d.status("anna") == "paused"
    assert d.acd.agents["anna"].reason == "autopause"
    assert rings(step) == [("c1", "bart")]


def test_a_stale_answer_from_an_earlier_ring_round_is_hung_up() -> None:
    d = Drill(QueueConfig("q", ring_timeout_s=10, retry_s=0, autopause_after=0))
    d.login("anna", "q")
    (first,) = of(d.call("c1", "q"), cmd.RingAgent)
    (second,) = of(d.advance(10), cmd.RingAgent)  # anna alone: rung again at once
    assert isinstance(first, cmd.RingAgent) and isinstance(second, cmd.RingAgent)
    assert (second.agent, second.offer > first.offer) == ("anna", True)
    # The first round's leg is only now reported gone: it must not cancel the second ring.
    d.feed(ev.AgentDeclined(d.t, "c1", "anna", offer=first.offer))
    assert d.status("anna") == "reserved"
    step = d.feed(ev.AgentAnswered(d.t, "c1", "anna", offer=second.offer))
    assert of(step, cmd.BridgeCall) == [cmd.BridgeCall("c1", "anna", False)]


def test_declined_offer_goes_to_the_next_agent_at_once() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    d.login("bart", "q")
    d.call("c1", "q")
    step = d.feed(ev.AgentDeclined(d.t, "c1", "anna", ev.DeclineReason.BUSY))
    assert rings(step) == [("c1", "bart")]


def test_no_agent_gets_two_calls_and_no_call_rings_two_agents() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    d.login("bart", "q")
    offered = []
    for n in range(5):
        offered += rings(d.call(f"c{n}", "q"))
    assert sorted(offered) == [("c0", "anna"), ("c1", "bart")]


def test_full_queue_rejects_the_caller() -> None:
    d = Drill(QueueConfig("q", max_length=2))
    d.call("c1", "q")
    d.call("c2", "q")
    step = d.call("c3", "q")
    assert of(step, cmd.RejectFromQueue) == [cmd.RejectFromQueue("c3", "q", "full")]
    assert "c3" not in d.acd.entries


def test_join_and_leave_rules_when_nobody_is_logged_in() -> None:
    d = Drill(QueueConfig("q", join_when_empty=False, leave_when_empty=True,
                          paused_counts_as_empty=True))
    step = d.call("c1", "q")
    assert of(step, cmd.RejectFromQueue) == [cmd.RejectFromQueue("c1", "q", "no_agents")]
    d.login("anna", "q", paused="training")
    assert of(d.call("c2", "q"), cmd.RejectFromQueue)  # paused counts as empty here
    d.feed(ev.AgentReady(d.t, "anna"))
    d.call("c3", "q")
    d.call("c4", "q")  # anna is ringing for c3; c4 waits
    step = d.feed(ev.AgentLoggedOut(d.t, "anna"))
    assert sorted(c.call_id for c in of(step, cmd.RejectFromQueue)) == ["c3", "c4"]
    assert d.acd.entries == {}


def test_overflow_to_another_queue_after_the_wait_threshold() -> None:
    d = Drill(QueueConfig("roads", overflow_after_s=60, overflow_queue="general",
                          moh_class="a"),
              QueueConfig("general", moh_class="b"))
    d.login("gosia", "general")
    d.feed(ev.AgentPaused(d.t, "gosia", "lunch"))
    d.call("c1", "roads")
    step = d.advance(60)
    assert of(step, cmd.HoldInQueue) == [cmd.HoldInQueue("c1", "general", "ckm-queue-general",
                                                         "b")]
    assert [n.reason for n in step.notices if isinstance(n, nt.CallLeftQueue)] == ["overflow"]
    assert rings(d.feed(ev.AgentReady(d.t, "gosia"))) == [("c1", "gosia")]


def test_overflow_to_callback_offers_a_callback_once() -> None:
    d = Drill(QueueConfig("q", overflow_after_s=30, overflow_to_callback=True))
    d.call("c1", "q")
    assert of(d.advance(30), cmd.OfferCallback) == [cmd.OfferCallback("c1", "q")]
    assert of(d.advance(30), cmd.OfferCallback) == []


def test_position_announcements_only_when_they_improve() -> None:
    d = Drill(QueueConfig("q", announce_every_s=30, default_handle_s=120))
    d.login("anna", "q", paused="meeting")
    for n in range(3):
        d.call(f"c{n}", "q")
    step = d.advance(30)
    assert [(c.call_id, c.position, c.estimated_wait_s)  # type: ignore[attr-defined]
            for c in of(step, cmd.AnnouncePosition)] == [
        ("c0", 1, 120), ("c1", 2, 240), ("c2", 3, 360)]
    assert of(d.advance(30), cmd.AnnouncePosition) == []  # nothing changed: silence
    d.hangup("c0")
    step = d.advance(30)
    assert [(c.call_id, c.position) for c in of(step, cmd.AnnouncePosition)] == [  # type: ignore[attr-defined]
        ("c1", 1), ("c2", 2)]


def test_wrapup_timer_returns_the_agent_to_available() -> None:
    d = Drill(QueueConfig("q", wrapup_s=20))
    d.login("anna", "q")
    d.call("c1", "q")
    d.answer("c1", "anna")
    d.advance(60)
    d.hangup("c1")
    assert d.status("anna") == "wrap_up"
    d.call("c2", "q")
    assert rings(d.advance(19)) == []
    assert rings(d.advance(1)) == [("c2", "anna")]


def test_wrapup_completed_with_a_disposition_from_the_list() -> None:
    d = Drill(QueueConfig("q", wrapup_s=60, dispositions=frozenset({"resolved", "case"})))
    d.login("anna", "q")
    d.call("c1", "q")
    d.answer("c1", "anna")
    d.hangup("c1")
    with pytest.raises(AcdError, match="not one of case, resolved"):
        d.feed(ev.WrapUpCompleted(d.t, "anna", "whatever"))
    assert d.status("anna") == "wrap_up"
    step = d.feed(ev.WrapUpCompleted(d.t, "anna", "case", "pothole on Marszałkowska"))
    assert next(n for n in step.notices if isinstance(n, nt.WrapUpDone)).disposition == "case"
    assert d.status("anna") == "available"


def test_pause_requested_on_a_call_applies_after_wrap_up() -> None:
    d = Drill(QueueConfig("q", wrapup_s=5))
    d.login("anna", "q")
    d.call("c1", "q")
    d.answer("c1", "anna")
    d.feed(ev.AgentPaused(d.t, "anna", "break"))
    assert d.status("anna") == "on_call"
    d.hangup("c1")
    d.advance(5)
    assert (d.status("anna"), d.acd.agents["anna"].reason) == ("paused", "break")


def test_illegal_events_raise_and_change_nothing() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    before = (dict(d.acd.agents), dict(d.acd.entries), dict(d.acd.calls))
    with pytest.raises(AcdError, match="unknown queue 'nope'"):
        d.call("c1", "nope")
    with pytest.raises(AcdError, match="already logged in"):
        d.login("anna", "q")
    with pytest.raises(AcdError, match="not connected"):
        d.feed(ev.HoldRequested(d.t, "c9", "anna"))
    with pytest.raises(AcdError, match="cannot ready while available"):
        d.feed(ev.AgentReady(d.t, "anna"))
    assert (d.acd.agents, d.acd.entries, d.acd.calls) == before


def test_agent_history_records_every_state() -> None:
    d = Drill(QueueConfig("q", wrapup_s=5))
    d.login("anna", "q")
    d.call("c1", "q")
    d.answer("c1", "anna")
    d.hangup("c1")
    d.advance(5)
    assert [h.state for h in d.acd.history["anna"]] == [
        "available", "reserved", "on_call", "wrap_up", "available"]


def test_fewest_calls_and_figures_start_afresh_at_midnight_in_warsaw() -> None:
    from datetime import UTC, datetime

    from cti.stats import LiveFigures

    d = Drill(QueueConfig("q", strategy=Strategy.FEWEST_CALLS, wrapup_s=0))
    d.t = datetime(2026, 11, 30, 22, 40, tzinfo=UTC)  # 23:40 in Warsaw
    d.login("anna", "q")
    d.login("bart", "q", paused="meeting")
    for n in range(2):
        d.call(f"c{n}", "q")
        d.answer(f"c{n}", "anna")
        d.advance(300)
        d.hangup(f"c{n}")  # anna's last call ends at 23:50
    d.advance(300)
    d.feed(ev.AgentReady(d.t, "bart"))  # 23:55
    d.advance(600)  # 00:05, a new day: both have answered nothing today
    assert rings(d.call("c9", "q")) == [("c9", "anna")]  # so the longest idle gets it
    figures = LiveFigures()
    for s in d.steps:
        for n in s.notices:
            figures.apply(n, d.acd.queues)
    assert figures.queues(d.acd, d.t)[0].answered == 0
