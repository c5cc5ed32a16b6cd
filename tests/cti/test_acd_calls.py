"""Callbacks, hold, transfers, supervisor snoop: what happens to a call once it is routed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cti import commands as cmd
from cti import events as ev
from cti import notices as nt
from cti.acd import AcdError
from cti.config import Caller, QueueConfig
from cti.drill import Drill, of, rings
from cti.stats import LiveFigures


def test_a_callback_keeps_the_callers_place_and_is_never_counted_abandoned() -> None:
    d = Drill(QueueConfig("q", wrapup_s=0))
    d.call("c1", "q")
    d.call("c2", "q")
    d.call("c3", "q")
    d.feed(ev.CallbackRequested(d.t, "c1", "+48221234567"))
    step = d.hangup("c1")  # the resident hangs up after choosing a callback
    assert not [n for n in step.notices if isinstance(n, nt.CallLeftQueue)]
    assert d.acd.position("c1") == 1
    step = d.login("anna", "q")
    (ring,) = of(step, cmd.RingAgent)
    assert isinstance(ring, cmd.RingAgent)
    assert (ring.call_id, ring.callback, ring.caller_number) == ("c1", True, "+48221234567")
    step = d.answer("c1", "anna")
    assert of(step, cmd.DialResident) == [cmd.DialResident("c1", "anna", "+48221234567",
                                                           "Jan Kowalski")]
    step = d.feed(ev.ResidentAnswered(d.t, "c1"))
    assert of(step, cmd.BridgeCall) == [cmd.BridgeCall("c1", "anna", False)]
    figures = LiveFigures()
    for s in d.steps:
        for n in s.notices:
            figures.apply(n, d.acd.queues)
    (q,) = figures.queues(d.acd, d.t)
    assert (q.abandoned, q.waiting, q.callbacks_pending) == (0, 2, 0)
    assert figures.tallies["q"].callbacks_done == 1


def test_unreachable_resident_is_retried_later_then_given_up() -> None:
    d = Drill(QueueConfig("q", callback_attempts=2, callback_retry_s=300))
    d.feed(ev.CallbackScheduled(d.t, "cb1", "q", Caller("+48225550000", "Ewa")))
    d.login("anna", "q")
    d.answer("cb1", "anna")
    d.feed(ev.ResidentUnreachable(d.t, "cb1"))
    assert d.status("anna") == "available"
    assert rings(d.advance(299)) == []
    assert rings(d.advance(1)) == [("cb1", "anna")]
    d.answer("cb1", "anna")
    step = d.feed(ev.ResidentUnreachable(d.t, "cb1"))
    assert [n.reason for n in step.notices if isinstance(n, nt.CallLeftQueue)] == [
        "callback_failed"]
    assert "cb1" not in d.acd.entries


def test_abandoned_caller_cancels_the_ring() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    d.call("c1", "q")
    step = d.hangup("c1")
    assert of(step, cmd.CancelRing) == [cmd.CancelRing("c1", "anna")]
    assert d.status("anna") == "available"
    assert [n.reason for n in step.notices if isinstance(n, nt.CallLeftQueue)] == ["abandoned"]


def connected(d: Drill, call_id: str = "c1", agent: str = "anna") -> None:
    d.call(call_id, "q")
    d.answer(call_id, agent)


def test_hold_and_unhold_only_by_the_agent_on_the_call() -> None:
    d = Drill(QueueConfig("q", moh_class="soft"))
    d.login("anna", "q")
    d.login("bart", "q")
    connected(d)
    with pytest.raises(AcdError, match="belongs to agent anna, not bart"):
        d.feed(ev.HoldRequested(d.t, "c1", "bart"))
    assert of(d.feed(ev.HoldRequested(d.t, "c1", "anna")), cmd.HoldCall) == [
        cmd.HoldCall("c1", "soft")]
    with pytest.raises(AcdError, match="already on hold"):
        d.feed(ev.HoldRequested(d.t, "c1", "anna"))
    assert of(d.feed(ev.UnholdRequested(d.t, "c1", "anna")), cmd.UnholdCall) == [
        cmd.UnholdCall("c1")]


def test_agent_hangup_ends_the_call_and_starts_wrap_up() -> None:
    d = Drill(QueueConfig("q", wrapup_s=30))
    d.login("anna", "q")
    connected(d)
    step = d.feed(ev.HangupRequested(d.t, "c1", "anna"))
    assert of(step, cmd.HangupCall) == [cmd.HangupCall("c1")]
    assert d.status("anna") == "wrap_up"
    assert d.acd.agents["anna"].wrapup_until == d.t + timedelta(seconds=30)


def test_blind_transfer_to_another_queue_requeues_the_caller() -> None:
    d = Drill(QueueConfig("q"), QueueConfig("water", moh_class="w"))
    d.login("anna", "q")
    connected(d)
    step = d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.QUEUE, "water"))
    assert of(step, cmd.HangupAgentLeg) == [cmd.HangupAgentLeg("c1", "anna")]
    assert of(step, cmd.HoldInQueue) == [cmd.HoldInQueue("c1", "water", "ckm-queue-water", "w")]
    assert d.acd.entries["c1"].queue == "water"
    assert d.status("anna") == "wrap_up"


def test_blind_transfer_to_an_agent_rings_only_that_agent_then_falls_back_to_the_queue() -> None:
    d = Drill(QueueConfig("q", ring_timeout_s=10))
    d.login("anna", "q")
    connected(d)
    d.login("bart", "q")
    d.login("celina", "q")
    step = d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.AGENT, "celina"))
    assert rings(step) == [("c1", "celina")]
    step = d.advance(10)  # celina does not answer: the caller goes to whoever is free
    assert rings(step) == [("c1", "bart")]


def test_transfer_to_a_busy_agent_is_refused_with_the_reason() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    d.login("bart", "q", paused="lunch")
    connected(d)
    with pytest.raises(AcdError, match=r"agent bart is not available \(paused\)"):
        d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.AGENT, "bart"))
    with pytest.raises(AcdError, match="external number"):
        d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.EXTERNAL, "DROP TABLE"))


def test_blind_transfer_to_an_external_number() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    connected(d)
    step = d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.EXTERNAL, "+48112"))
    assert of(step, cmd.DialExternal) == [cmd.DialExternal("c1", "+48112")]
    assert "c1" not in d.acd.calls


def test_attended_transfer_to_an_agent() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    connected(d)
    d.login("bart", "q")
    step = d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.AGENT, "bart",
                                       attended=True))
    assert of(step, cmd.HoldCall) and of(step, cmd.StartConsult) == [
        cmd.StartConsult("c1", "anna", "PJSIP/bart")]
    assert d.status("bart") == "reserved"
    with pytest.raises(AcdError, match="has not answered yet"):
        d.feed(ev.TransferCompleted(d.t, "c1", "anna"))
    d.feed(ev.ConsultAnswered(d.t, "c1"))
    step = d.feed(ev.TransferCompleted(d.t, "c1", "anna"))
    assert of(step, cmd.CompleteConsult) == [cmd.CompleteConsult("c1", "anna", "bart")]
    assert d.acd.calls["c1"].agent == "bart"
    assert (d.status("anna"), d.status("bart")) == ("wrap_up", "on_call")


def test_attended_transfer_cancelled_returns_the_caller() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    connected(d)
    d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.EXTERNAL, "+48225551111",
                                attended=True))
    step = d.feed(ev.TransferCancelled(d.t, "c1", "anna"))
    assert of(step, cmd.CancelConsult) == [cmd.CancelConsult("c1", "anna")]
    assert d.acd.calls["c1"].held is False


def test_recording_is_asked_for_when_the_queue_records() -> None:
    d = Drill(QueueConfig("q", record=True))
    d.login("anna", "q")
    d.call("c1", "q")
    assert of(d.answer("c1", "anna"), cmd.BridgeCall) == [cmd.BridgeCall("c1", "anna", True)]


def test_snoop_on_a_connected_call() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    connected(d)
    step = d.feed(ev.SnoopRequested(d.t, "c1", "szef", "PJSIP/szef", ev.SnoopMode.WHISPER))
    assert step.commands == (cmd.Snoop("c1", "anna", "szef", "PJSIP/szef", ev.SnoopMode.WHISPER),)


def test_force_logout_of_a_ringing_agent_puts_the_call_back() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    d.call("c1", "q")
    step = d.feed(ev.AgentLoggedOut(d.t, "anna", by="szef"))
    assert of(step, cmd.CancelRing) == [cmd.CancelRing("c1", "anna")]
    assert d.status("anna") == "offline"
    assert rings(d.login("bart", "q")) == [("c1", "bart")]


def test_a_transferred_caller_is_not_a_new_answer_nor_an_abandon_in_the_figures() -> None:
    d = Drill(QueueConfig("q", wrapup_s=0), QueueConfig("water"))
    d.login("anna", "q")
    d.login("bart", "water")
    connected(d)
    d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.QUEUE, "water"))
    d.answer("c1", "bart")
    d.feed(ev.TransferRequested(d.t, "c1", "bart", ev.TargetKind.QUEUE, "q"))
    d.hangup("c1")  # gives up while waiting again
    figures = LiveFigures()
    for s in d.steps:
        for n in s.notices:
            figures.apply(n, d.acd.queues)
    by_queue = {q.queue: q for q in figures.queues(d.acd, d.t)}
    assert (by_queue["q"].answered, by_queue["q"].abandoned) == (1, 0)
    assert by_queue["water"].answered == 0


def test_the_colleague_hanging_up_the_consultation_returns_the_caller() -> None:
    d = Drill(QueueConfig("q"))
    d.login("anna", "q")
    connected(d)
    d.login("bart", "q")
    d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.AGENT, "bart", attended=True))
    d.feed(ev.ConsultAnswered(d.t, "c1"))
    step = d.feed(ev.AgentHungUp(d.t, "c1", "bart"))
    assert of(step, cmd.CancelConsult) == [cmd.CancelConsult("c1", "anna")]
    assert (d.status("anna"), d.status("bart")) == ("on_call", "available")
    assert d.acd.calls["c1"].held is False


def test_callback_to_the_caller_id_unless_it_is_withheld() -> None:
    d = Drill(QueueConfig("q"))
    d.call("c1", "q", number="+48221234567")
    d.feed(ev.CallbackRequested(d.t, "c1"))
    assert d.acd.entries["c1"].caller.number == "+48221234567"
    d.call("c2", "q", number="anonymous")
    with pytest.raises(AcdError, match="no number to call back"):
        d.feed(ev.CallbackRequested(d.t, "c2"))
    assert not d.acd.entries["c2"].callback


def test_a_due_callback_with_nobody_to_take_it_does_not_keep_the_timer_busy() -> None:
    d = Drill(QueueConfig("q"))
    d.feed(ev.CallbackScheduled(d.t, "cb1", "q", Caller("+48225550000"),
                                not_before=d.t + timedelta(seconds=60)))
    assert d.acd.next_deadline() == d.t + timedelta(seconds=60)
    d.advance(60)
    assert d.acd.next_deadline() is None


def test_a_scheduled_callback_needs_a_real_number() -> None:
    d = Drill(QueueConfig("q"))
    with pytest.raises(AcdError, match="expected a phone number"):
        d.feed(ev.CallbackScheduled(d.t, "cb1", "q", Caller("call me maybe")))
    assert d.acd.entries == {}


def test_a_supervisor_extends_wrap_up_and_only_while_it_lasts() -> None:
    d = Drill(QueueConfig("q", wrapup_s=30))
    d.login("anna", "q")
    connected(d)
    d.feed(ev.HangupRequested(d.t, "c1", "anna"))
    until = d.acd.agents["anna"].wrapup_until
    assert until is not None
    d.feed(ev.WrapUpExtended(d.t, "anna", 60, by="kierownik"))
    assert d.acd.agents["anna"].wrapup_until == until + timedelta(seconds=60)
    with pytest.raises(AcdError, match="1 to 3600"):
        d.feed(ev.WrapUpExtended(d.t, "anna", 0, by="kierownik"))
    d.advance(89)
    assert d.status("anna") == "wrap_up"
    d.advance(2)
    assert d.status("anna") == "available"
    with pytest.raises(AcdError, match="not in wrap-up"):
        d.feed(ev.WrapUpExtended(d.t, "anna", 60, by="kierownik"))
