"""The ACD's facts the reports need and the call events do not carry, onto the domain bus.

Rules: `report_events` is pure (one notice in, domain events out); `ReportFacts.on_notice` is a
switchboard notice hook that publishes them. What it adds for the CRM (and so for the reports):
- why a caller left a queue without an agent (abandoned, overflow, full, no agents) and after
  how long: the reports count abandoned calls from this, exactly as the live figures do;
- hold on and off: hold time is part of the handling time;
- every agent state change (with the pause reason and the call): logged-in time, time by state
  and pause reason, unanswered offers;
- the end of a wrap-up whose timer ran out before a disposition (the notifier publishes only
  the ones with a disposition): wrap-up time is part of the handling time.
"""

from __future__ import annotations

from cti import notices as nt
from ground import events as domain
from ground.bus import EventBus


def report_events(n: nt.Notice) -> list[domain.DomainEvent]:
    match n:
        case nt.CallLeftQueue() if not n.callback:
            return [domain.CallLeftQueue(n.call_id, n.at, n.queue, n.reason, n.waited_s)]
        case nt.CallHeld():
            return [domain.CallHeld(n.call_id, n.at, n.agent, n.held)]
        case nt.AgentStateChanged():
            return [domain.AgentStateChanged(n.call_id or "", n.at, n.agent, n.state, n.reason)]
        case nt.WrapUpDone() if n.call_id is not None and not n.disposition:
            return [domain.CallDispositioned(n.call_id, n.at, n.agent, "", "")]
    return []


class ReportFacts:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    def on_notice(self, n: nt.Notice) -> None:
        for event in report_events(n):
            self.bus.publish(event)
