"""A controller restart with callers waiting: they keep their places."""

from __future__ import annotations

import pytest

from cti import commands as cmd
from cti import events as ev
from cti import snapshot
from cti.config import AgentProfile, Caller, Membership, QueueConfig
from cti.drill import Drill, rings
from cti.stats import LiveFigures

QUEUES = (QueueConfig("roads"), QueueConfig("water"))


def test_callers_keep_their_place_and_rings_in_flight_are_redone() -> None:
    d = Drill(*QUEUES)
    d.login("anna", "roads")
    for n in range(4):
        d.call(f"c{n}", "roads")
    d.feed(ev.CallbackRequested(d.t, "c2", "+48221110000"))
    d.call("w1", "water", priority=3)
    assert rings(d.steps[1]) == [("c0", "anna")]  # c0 was ringing anna when we crashed

    text = snapshot.dumps(d.acd)
    after = snapshot.loads(text, QUEUES)

    assert [e.call_id for e in after.waiting("roads")] == ["c0", "c1", "c2", "c3"]
    assert after.entries["c2"].callback and after.entries["c2"].caller.number == "+48221110000"
    assert after.agents["anna"].status.value == "available"
    step = after.handle(ev.Tick(d.t))
    assert rings(step) == [("c0", "anna")]


def test_connected_calls_and_wrap_up_survive_a_restart() -> None:
    d = Drill(*QUEUES)
    d.login("anna", "roads")
    d.call("c0", "roads")
    d.answer("c0", "anna")
    after = snapshot.loads(snapshot.dumps(d.acd), QUEUES)
    assert after.calls["c0"].agent == "anna"
    after.handle(ev.CallerHungUp(d.t, "c0"))
    assert after.agents["anna"].status.value == "wrap_up"


def test_a_broken_snapshot_is_refused_with_the_reason() -> None:
    with pytest.raises(snapshot.SnapshotError, match="not JSON"):
        snapshot.loads("{", QUEUES)
    with pytest.raises(snapshot.SnapshotError, match="version"):
        snapshot.loads('{"version": 99}', QUEUES)
    with pytest.raises(snapshot.SnapshotError, match="KeyError"):
        snapshot.loads('{"version": 1, "now": null}', QUEUES)


def test_callers_in_a_queue_removed_meanwhile_keep_their_place() -> None:
    d = Drill(QueueConfig("gone", moh_class="x"), *QUEUES)
    d.call("c0", "gone")
    after = snapshot.loads(snapshot.dumps(d.acd), QUEUES)
    assert [e.call_id for e in after.waiting("gone")] == ["c0"]
    step = after.handle(ev.AgentLoggedIn(d.t, AgentProfile("anna", memberships=(
        Membership("gone"),)), "PJSIP/anna"))
    assert [(c.call_id, c.agent) for c in step.commands if isinstance(c, cmd.RingAgent)] == [
        ("c0", "anna")]


def test_live_figures_service_level_asa_and_abandoned() -> None:
    d = Drill(QueueConfig("q", service_level_s=20, wrapup_s=0))
    d.login("anna", "q", paused="meeting")
    d.call("fast", "q")
    d.call("slow", "q")
    d.call("gone", "q")
    d.feed(ev.CallbackScheduled(d.t, "cb", "q", Caller("+48221110000")))
    d.advance(10)
    d.feed(ev.AgentReady(d.t, "anna"))
    d.answer("fast", "anna")  # waited 10 s
    d.advance(25)
    d.hangup("gone")  # abandoned after 35 s
    d.hangup("fast")
    d.answer("slow", "anna")  # waited 35 s
    figures = LiveFigures()
    for s in d.steps:
        for n in s.notices:
            figures.apply(n, d.acd.queues)
    (q,) = figures.queues(d.acd, d.t)
    assert (q.answered, q.abandoned, q.waiting, q.callbacks_pending) == (2, 1, 0, 1)
    assert q.service_level == pytest.approx(1 / 3, abs=1e-3)
    assert q.asa_s == 22.5
    assert q.abandoned_pct == pytest.approx(33.33, abs=0.01)
    (a,) = figures.agents(d.acd, d.t)
    assert (a.state, a.call_id) == ("on_call", "slow")


def test_a_fork_is_an_equal_but_independent_acd() -> None:
    d = Drill(*QUEUES)
    d.login("anna", "roads")
    d.call("c0", "roads")
    d.call("c1", "roads")
    twin = d.acd.fork()
    assert snapshot.dump(twin) == snapshot.dump(d.acd)
    twin.handle(ev.CallerHungUp(d.t, "c1"))
    assert "c1" in d.acd.entries and "c1" not in twin.entries
