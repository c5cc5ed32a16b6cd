"""The screen-pop and the notices out, driven by the real ACD core: notices in, messages out.

No hub and no mocks: a `Desk` runs each step's notices through `ScreenPops` and the notifier's
pure mappings, as `Notifier.notice` does, and keeps what would have been sent and fetched.
The last tests run the `Notifier` itself with in-memory history providers (the CRM's port).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cti import events as ev
from cti import notices as nt
from cti.acd import Step
from cti.config import CallContext, Caller, QueueConfig
from cti.drill import Drill
from cti.notifier import Notifier, domain_events, figures_messages, hub_message, state_line
from cti.screen_pop import HistoryWanted, HubMessage, ScreenPops
from ground import events as domain
from tests.polling import wait_until

CONTEXT = CallContext(("welcome", "roads"), "pothole", "dziura na ulicy Puławskiej")
KOWALSKI = {"resident": {"name": "Jan Kowalski"},
            "open_cases": [{"number": "19115/2026/0042", "status": "in_progress"}]}


@dataclass
class Desk:
    """The notifier's decisions over a drill, without the I/O."""

    drill: Drill
    pops: ScreenPops = field(default_factory=lambda: ScreenPops(fetching=True))
    sent: list[HubMessage] = field(default_factory=list)
    fetches: list[HistoryWanted] = field(default_factory=list)

    def holds(self, call_id: str) -> bool:
        return call_id in self.drill.acd.entries or call_id in self.drill.acd.calls

    def run(self, step: Step) -> list[HubMessage]:
        out = []
        for n in step.notices:
            pop = self.pops.notice(n, self.holds)
            if pop.fetch is not None:
                self.fetches.append(pop.fetch)
            message = pop.offer if pop.offer is not None else hub_message(n)
            if message is not None:
                out.append(message)
        self.sent += out
        return out

    def history_arrives(self, call_id: str, history: Mapping[str, Any]) -> HubMessage | None:
        return self.pops.arrived(call_id, history, still_there=self.holds(call_id))

    def enqueue(self, call_id: str, queue: str = "roads") -> list[HubMessage]:
        d = self.drill
        return self.run(d.feed(ev.CallEnqueued(d.t, call_id, queue,
                                               Caller("+48221234567", "Jan Kowalski"),
                                               context=CONTEXT)))


def offers(messages: list[HubMessage]) -> list[HubMessage]:
    return [m for m in messages if m.event == "call_offered"]


def test_history_fetched_while_the_caller_waits_is_in_the_pop_when_the_phone_rings() -> None:
    desk = Desk(Drill(QueueConfig("roads")))
    desk.enqueue("c1")
    assert desk.fetches == [HistoryWanted("c1", "+48221234567")]
    assert desk.history_arrives("c1", KOWALSKI) is None  # nobody is ringing yet
    (offer,) = offers(desk.run(desk.drill.login("anna", "roads")))
    assert offer.agents == ("anna",) and offer.supervisors
    assert offer.data["screen_pop"] == {
        "caller_number": "+48221234567", "caller_name": "Jan Kowalski",
        "ivr_path": ["welcome", "roads"], "category": "pothole",
        "transcript": "dziura na ulicy Puławskiej", "history": KOWALSKI,
        "history_pending": False}
    json.dumps(offer.data)  # goes to the hub as it is


def test_a_pop_sent_before_the_history_is_completed_once_and_the_next_agent_gets_it_whole(
        ) -> None:
    desk = Desk(Drill(QueueConfig("roads", ring_timeout_s=15)))
    desk.run(desk.drill.login("anna", "roads"))
    (first,) = offers(desk.enqueue("c1"))  # anna is free: the phone rings in the same step
    assert first.data["screen_pop"]["history"] is None
    assert first.data["screen_pop"]["history_pending"] is True
    late = desk.history_arrives("c1", KOWALSKI)
    assert late == HubMessage("screen_pop_history", {"call_id": "c1", "history": KOWALSKI},
                              agents=("anna",))
    assert desk.history_arrives("c1", KOWALSKI) is None  # completed once, not twice
    desk.run(desk.drill.login("bart", "roads"))
    (second,) = offers(desk.run(desk.drill.advance(15)))  # anna lets it ring out
    assert second.agents == ("bart",)
    assert second.data["screen_pop"]["history"] == KOWALSKI
    assert second.data["screen_pop"]["history_pending"] is False
    assert desk.fetches == [HistoryWanted("c1", "+48221234567")]


def test_a_blind_transfer_keeps_the_history_and_both_consultants_hear_of_it() -> None:
    desk = Desk(Drill(QueueConfig("roads")))
    d = desk.drill
    desk.run(d.login("anna", "roads"))
    desk.enqueue("c1")
    desk.history_arrives("c1", KOWALSKI)
    desk.run(d.answer("c1", "anna"))
    desk.run(d.login("bart", "roads"))
    sent = desk.run(d.feed(ev.TransferRequested(d.t, "c1", "anna", ev.TargetKind.AGENT,
                                                "bart")))
    assert [(m.event, m.agents) for m in sent if m.event != "agent_state"] == [
        ("call_transferred", ("anna", "bart")),
        ("call_ended", ("anna",)),
        ("call_queued", ()),
        ("call_offered", ("bart",))]
    (offer,) = offers(sent)
    # The call ended for anna and was queued again in the same step: nothing forgotten,
    # nothing asked twice.
    assert offer.data["screen_pop"]["history"] == KOWALSKI
    assert offer.data["screen_pop"]["history_pending"] is False
    assert offer.data["screen_pop"]["ivr_path"] == ["welcome", "roads"]
    assert len(desk.fetches) == 1


def test_a_callback_pops_the_resident_to_ring_with_their_history() -> None:
    desk = Desk(Drill(QueueConfig("roads")))
    d = desk.drill
    sent = desk.run(d.feed(ev.CallbackScheduled(d.t, "cb1", "roads",
                                                Caller("+48225550000", "Ewa Nowak"))))
    assert [(m.event, m.data["callback"]) for m in sent] == [("call_queued", True)]
    assert desk.fetches == [HistoryWanted("cb1", "+48225550000")]
    desk.history_arrives("cb1", {"resident": {"name": "Ewa Nowak"}, "open_cases": []})
    (offer,) = offers(desk.run(d.login("anna", "roads")))
    assert offer.data["callback"] is True
    pop = offer.data["screen_pop"]
    assert (pop["caller_number"], pop["caller_name"]) == ("+48225550000", "Ewa Nowak")
    assert pop["history"]["resident"]["name"] == "Ewa Nowak"


def test_a_caller_who_hangs_up_leaves_nothing_behind_and_a_late_history_is_dropped() -> None:
    desk = Desk(Drill(QueueConfig("roads")))
    d = desk.drill
    desk.run(d.login("anna", "roads"))
    desk.enqueue("c1")  # offered to anna, history pending
    sent = desk.run(d.hangup("c1"))
    assert [m.event for m in sent if m.event != "agent_state"] == [
        "offer_withdrawn", "call_left_queue"]
    assert desk.history_arrives("c1", KOWALSKI) is None
    assert (desk.pops.histories, desk.pops.waiting) == ({}, {})


def test_an_ended_call_forgets_its_history() -> None:
    desk = Desk(Drill(QueueConfig("roads", wrapup_s=0)))
    d = desk.drill
    desk.run(d.login("anna", "roads"))
    desk.enqueue("c1")
    desk.history_arrives("c1", KOWALSKI)
    desk.run(d.answer("c1", "anna"))
    assert desk.pops.history("c1") == KOWALSKI  # kept while the call is on
    desk.run(d.hangup("c1"))
    assert desk.pops.history("c1") is None and desk.pops.histories == {}


def test_without_a_history_provider_no_pop_is_pending() -> None:
    desk = Desk(Drill(QueueConfig("roads")), pops=ScreenPops(fetching=False))
    desk.run(desk.drill.login("anna", "roads"))
    (offer,) = offers(desk.enqueue("c1"))
    assert offer.data["screen_pop"]["history_pending"] is False
    assert desk.fetches == [] and desk.pops.waiting == {}


def test_a_call_from_ring_to_wrap_up_reaches_each_consultant_and_the_supervisors() -> None:
    desk = Desk(Drill(QueueConfig("roads", wrapup_s=30,
                                  dispositions=frozenset({"resolved"}))))
    d = desk.drill
    desk.run(d.login("anna", "roads"))
    desk.enqueue("c1")
    desk.run(d.answer("c1", "anna"))
    desk.run(d.feed(ev.HoldRequested(d.t, "c1", "anna")))
    d.t += timedelta(seconds=42)
    desk.run(d.feed(ev.HangupRequested(d.t, "c1", "anna")))
    desk.run(d.feed(ev.WrapUpCompleted(d.t, "anna", "resolved", "told about the schedule")))
    assert [(m.event, m.agents, m.data.get("state")) for m in desk.sent] == [
        ("agent_state", ("anna",), "available"),
        ("call_queued", (), None),
        ("agent_state", ("anna",), "reserved"),
        ("call_offered", ("anna",), None),
        ("agent_state", ("anna",), "on_call"),
        ("call_answered", ("anna",), None),
        ("call_held", ("anna",), None),
        ("call_ended", ("anna",), None),
        ("agent_state", ("anna",), "wrap_up"),
        ("wrap_up_done", ("anna",), None),
        ("agent_state", ("anna",), "available")]
    ended = next(m for m in desk.sent if m.event == "call_ended")
    assert (ended.data["by"], ended.data["talk_s"]) == ("agent", 42.0)
    assert all(m.supervisors for m in desk.sent)


def test_the_crm_hears_what_only_the_acd_knows() -> None:
    d = Drill(QueueConfig("roads", wrapup_s=30, dispositions=frozenset({"resolved"}),
                          record=True))
    heard: list[domain.DomainEvent] = []

    def run(step: Step) -> None:
        for n in step.notices:
            recorded = isinstance(n, nt.CallConnected) and d.acd.queues[n.queue].record
            heard.extend(domain_events(n, recorded=recorded))

    run(d.login("anna", "roads"))
    run(d.call("c1", "roads"))
    run(d.answer("c1", "anna"))
    run(d.feed(ev.HangupRequested(d.t, "c1", "anna")))
    run(d.feed(ev.WrapUpCompleted(d.t, "anna", "resolved", "ok")))
    run(d.feed(ev.CallbackScheduled(d.t, "cb1", "roads", Caller("+48225550000"))))
    assert [e.kind for e in heard] == ["call_offered", "agent_connected", "call_recorded",
                                       "call_dispositioned", "callback_requested",
                                       "call_offered"]
    assert all(domain.from_dict(e.to_dict()) == e for e in heard)


def test_the_state_log_line_is_one_json_object() -> None:
    d = Drill(QueueConfig("roads"))
    (changed,) = [n for n in d.login("anna", "roads").notices
                  if isinstance(n, nt.AgentStateChanged)]
    line = state_line(changed)
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {"at": d.t.isoformat(), "agent": "anna", "state": "available",
                                "reason": "", "call_id": None}


def test_figures_go_to_supervisors_and_each_consultant_gets_only_their_queues() -> None:
    def brief(queue: str, waiting: int) -> dict[str, Any]:
        return {"queue": queue, "waiting": waiting, "longest_wait_s": 3.0,
                "callbacks_pending": 0, "answered": 7}

    view = {"at": "2026-11-30T08:00:00+00:00", "agents": [],
            "queues": [brief("roads", 2), brief("water", 0), brief("waste", 1)]}
    sent = figures_messages(view, {"roads": ["anna", "bart"], "water": ["anna"], "waste": []})
    assert [(m.event, m.agents, m.supervisors) for m in sent] == [
        ("figures", (), True),
        ("queue_figures", ("anna", "bart"), False),
        ("queue_figures", ("anna",), False)]
    assert sent[0].data == view
    assert sent[1].data == {"queue": "roads", "waiting": 2, "longest_wait_s": 3.0,
                            "callbacks_pending": 0}


# --- the Notifier's own I/O: histories fetched in the background --------------------------


class CrmDown:
    async def caller_history(self, number: str) -> Mapping[str, Any]:
        raise ConnectionError("could not connect to server")


@dataclass
class SlowCrm:
    delay_s: float

    async def caller_history(self, number: str) -> Mapping[str, Any]:
        await asyncio.sleep(self.delay_s)  # a database slower than the notifier will wait
        return KOWALSKI


async def history_of(notifier: Notifier, call_id: str, timeout_s: float = 3.0
                     ) -> Mapping[str, Any]:
    return await wait_until(f"{call_id}'s history", lambda: notifier.pops.history(call_id),
                            timeout_s)


def queued(d: Drill, call_id: str) -> nt.Notice:
    (n,) = [n for n in d.call(call_id, "roads").notices if isinstance(n, nt.CallQueued)]
    return n


async def test_a_crm_that_fails_gives_a_pop_that_says_so_instead_of_none() -> None:
    d = Drill(QueueConfig("roads"))
    notifier = Notifier(lambda call_id: call_id in d.acd.entries, CrmDown())
    notifier.notice(queued(d, "c1"))
    assert await history_of(notifier, "c1") == {"error": "history unavailable"}
    await notifier.stop()


async def test_a_crm_slower_than_the_timeout_is_given_up() -> None:
    d = Drill(QueueConfig("roads"))
    notifier = Notifier(lambda call_id: call_id in d.acd.entries, SlowCrm(5.0),
                        history_timeout_s=0.05)
    notifier.notice(queued(d, "c1"))
    assert await history_of(notifier, "c1", timeout_s=2.0) == {"error": "history unavailable"}
    await notifier.stop()
