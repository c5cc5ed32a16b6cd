"""The ACD's facts the reports need, as domain events for the CRM: a caller who left a queue
(not a callback), hold on and off, every agent state (with its call, or none), and a wrap-up
that ended without a code; nothing else."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cti import notices as nt
from cti.report_facts import ReportFacts, report_events
from ground import events as domain
from ground.bus import EventBus

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_each_notice_the_reports_need_becomes_its_domain_event() -> None:
    assert report_events(nt.CallLeftQueue(AT, "c1", "ogolna", "abandoned", 12.5, False)) == [
        domain.CallLeftQueue("c1", AT, "ogolna", "abandoned", 12.5)]
    # A callback's entry giving up is a callback figure, not a caller leaving the queue.
    assert report_events(nt.CallLeftQueue(AT, "c1", "ogolna", "callback_failed", 0, True)) == []
    assert report_events(nt.CallHeld(AT, "c2", "k1", True)) == [
        domain.CallHeld("c2", AT, "k1", True)]
    assert report_events(nt.AgentStateChanged(AT, "k1", "paused", "break")) == [
        domain.AgentStateChanged("", AT, "k1", "paused", "break")]
    assert report_events(nt.AgentStateChanged(AT, "k1", "on_call", "", "c2")) == [
        domain.AgentStateChanged("c2", AT, "k1", "on_call", "")]
    assert report_events(nt.WrapUpDone(AT, "k1", "c2", "", "")) == [
        domain.CallDispositioned("c2", AT, "k1", "", "")]
    # With a code, the notifier already publishes it; without a call there is nothing to end.
    assert report_events(nt.WrapUpDone(AT, "k1", "c2", "info", "")) == []
    assert report_events(nt.WrapUpDone(AT, "k1", None, "", "")) == []


def test_the_hook_publishes_on_the_bus_and_the_journal_reads_them_back() -> None:
    async def run() -> list[domain.DomainEvent]:
        bus = EventBus()
        seen: list[domain.DomainEvent] = []

        async def collect(event: domain.DomainEvent) -> None:
            seen.append(event)

        bus.subscribe("test", collect)
        ReportFacts(bus).on_notice(nt.CallHeld(AT, "c2", "k1", False))
        await bus.drain()
        await bus.close()
        return seen

    seen = asyncio.run(run())
    assert seen == [domain.CallHeld("c2", AT, "k1", False)]
    assert domain.from_dict(seen[0].to_dict()) == seen[0]
    # A journal written before `language` existed still reads.
    old = domain.CallQueued("c3", AT, "ogolna", "drogi", 2).to_dict()
    del old["language"]
    assert domain.from_dict(old) == domain.CallQueued("c3", AT, "ogolna", "drogi", 2, "")
