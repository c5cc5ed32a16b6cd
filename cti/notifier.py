"""Notices out: the ACD's facts as hub events, domain events and state-log lines.

Rules:
- The mappings are pure functions of one notice: `hub_message` (the consultant concerned and
  the supervisors; the offer is the screen-pop's, `cti.screen_pop`), `domain_events` (the
  center's shared vocabulary for the CRM recorder), `state_line` (the agents' state log),
  `figures_messages` (the wallboard feed and each consultant's own queues).
- `Notifier` is the only I/O: it sends hub messages in the order the ACD emitted its notices,
  and fetches caller histories in the background when a call joins a queue (at most
  `history_timeout_s`; a failure becomes `{"error": "history unavailable"}`, the pop goes on
  without it). It never blocks the switchboard: `notice` is synchronous.
- Whether a call is gone is asked of the ACD (`holds`) when the notice is sent, i.e. after the
  whole step that emitted it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cti import notices as nt
from cti.config import Caller
from cti.hub import CtiHub
from cti.ports import HistoryProvider
from cti.screen_pop import History, HistoryWanted, HubMessage, ScreenPops
from ground import events as domain

log = logging.getLogger(__name__)

def hub_message(n: nt.Notice) -> HubMessage | None:
    """The hub event for a notice; None for an offer (`ScreenPops.offered` builds it)."""
    at = n.at.isoformat()
    match n:
        case nt.AgentStateChanged():
            return HubMessage("agent_state", {"agent": n.agent, "state": n.state,
                                              "reason": n.reason, "call_id": n.call_id,
                                              "at": at}, agents=(n.agent,))
        case nt.CallQueued():
            return HubMessage("call_queued", {"call_id": n.call_id, "queue": n.queue,
                                              "caller": caller_view(n.caller),
                                              "priority": n.priority, "callback": n.callback,
                                              "at": at})
        case nt.OfferWithdrawn():
            return HubMessage("offer_withdrawn", {"call_id": n.call_id, "agent": n.agent,
                                                  "reason": n.reason, "at": at},
                              agents=(n.agent,))
        case nt.CallConnected():
            return HubMessage("call_answered", {"call_id": n.call_id, "queue": n.queue,
                                                "agent": n.agent,
                                                "waited_s": round(n.waited_s, 1),
                                                "callback": n.callback,
                                                "transferred": n.transferred, "at": at},
                              agents=(n.agent,))
        case nt.CallHeld():
            return HubMessage("call_held", {"call_id": n.call_id, "agent": n.agent,
                                            "held": n.held, "at": at}, agents=(n.agent,))
        case nt.CallTransferred():
            # A colleague taking the call hears of it as well as the one handing it over.
            return HubMessage("call_transferred", {
                "call_id": n.call_id, "agent": n.agent, "kind": n.kind, "target": n.target,
                "attended": n.attended, "at": at},
                agents=(n.agent, n.target) if n.kind == "agent" else (n.agent,))
        case nt.CallEnded():
            return HubMessage("call_ended", {"call_id": n.call_id, "queue": n.queue,
                                             "agent": n.agent, "by": n.by,
                                             "talk_s": round(n.talk_s, 1), "at": at},
                              agents=(n.agent,))
        case nt.CallbackAttempted():
            return HubMessage("callback_attempted", {
                "call_id": n.call_id, "queue": n.queue, "agent": n.agent,
                "reached": n.reached, "attempt": n.attempt, "final": n.final, "at": at},
                agents=(n.agent,))
        case nt.CallLeftQueue():
            return HubMessage("call_left_queue", {"call_id": n.call_id, "queue": n.queue,
                                                  "reason": n.reason,
                                                  "waited_s": round(n.waited_s, 1),
                                                  "callback": n.callback, "at": at})
        case nt.WrapUpDone():
            return HubMessage("wrap_up_done", {"agent": n.agent, "call_id": n.call_id,
                                               "disposition": n.disposition, "at": at},
                              agents=(n.agent,))
    return None


def domain_events(n: nt.Notice, *, recorded: bool = False) -> list[domain.DomainEvent]:
    """The ACD's facts in the center's shared vocabulary (ground.events) for the CRM recorder.

    pbx/ publishes CallQueued (when the IVR enqueues) and CallEnded (when the channel goes);
    the ACD adds what only it knows: offers, connections, transfers. `recorded`: the queue of
    a connected call records its calls."""
    match n:
        case nt.CallOffered():
            return [domain.CallOffered(n.call_id, n.at, n.queue, n.agent)]
        case nt.CallConnected():
            out: list[domain.DomainEvent] = []
            if not n.transferred:
                out.append(domain.AgentConnected(n.call_id, n.at, n.queue, n.agent, n.waited_s))
            if recorded:
                # The pbx adapter records the call bridge under the call's id (BridgeCall).
                out.append(domain.CallRecorded(n.call_id, n.at, n.call_id))
            return out
        case nt.CallTransferred():
            return [domain.CallTransferred(n.call_id, n.at, f"{n.kind}:{n.target}")]
        case nt.CallQueued() if n.callback:
            return [domain.CallbackRequested(n.call_id, n.at, n.queue, n.caller.number)]
        case nt.CallbackAttempted():
            return [domain.CallbackAttempted(n.call_id, n.at, n.agent, n.reached, n.attempt,
                                             n.final)]
        case nt.WrapUpDone() if n.call_id is not None and n.disposition:
            return [domain.CallDispositioned(n.call_id, n.at, n.agent, n.disposition, n.notes)]
    return []


def state_line(n: nt.AgentStateChanged) -> str:
    """One JSON line of the agents' state log."""
    return json.dumps({"at": n.at.isoformat(), "agent": n.agent, "state": n.state,
                       "reason": n.reason, "call_id": n.call_id},
                      ensure_ascii=False, separators=(",", ":")) + "\n"


def queue_brief(q: Mapping[str, Any]) -> dict[str, Any]:
    """What a consultant sees of their queues."""
    return {k: q[k] for k in ("queue", "waiting", "longest_wait_s", "callbacks_pending")}


def caller_view(c: Caller) -> dict[str, str]:
    return {"number": c.number, "name": c.name}


def figures_messages(view: Mapping[str, Any], members: Mapping[str, Sequence[str]]
                     ) -> list[HubMessage]:
    """Supervisors get all the figures; each logged-in consultant (`members`: queue → agents)
    the brief of the queues they belong to."""
    out = [HubMessage("figures", dict(view), supervisors=True)]
    for queue in view["queues"]:
        agents = members.get(queue["queue"], ())
        if agents:
            out.append(HubMessage("queue_figures", queue_brief(queue), agents=tuple(agents),
                                  supervisors=False))
    return out


class Notifier:
    """Sends the ACD's notices to the hub and keeps the screen-pops' caller histories."""

    def __init__(self, holds: Callable[[str], bool], history: HistoryProvider | None = None,
                 *, history_timeout_s: float = 2.0) -> None:
        self.holds = holds  # whether the ACD still has the call
        self.history = history
        self.history_timeout_s = history_timeout_s
        self.hub: CtiHub | None = None
        self.pops = ScreenPops(fetching=history is not None)
        self._tasks: set[asyncio.Task[None]] = set()

    def notice(self, n: nt.Notice) -> None:
        step = self.pops.notice(n, self.holds)
        if step.fetch is not None:
            self._fetch_in_background(step.fetch)
        self.send(step.offer if step.offer is not None else hub_message(n))

    def send(self, message: HubMessage | None) -> None:
        if message is not None and self.hub is not None:
            self.hub.publish(message.event, message.data, agents=message.agents,
                             supervisors=message.supervisors)

    def _fetch_in_background(self, wanted: HistoryWanted) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # driven synchronously (tests, replays): pops go out without a history
        task = loop.create_task(self._fetch(wanted.call_id, wanted.number))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, call_id: str, number: str) -> None:
        assert self.history is not None
        found: History
        try:
            found = await asyncio.wait_for(self.history.caller_history(number),
                                           self.history_timeout_s)
        except Exception:
            log.exception("caller history for %s failed; screen-pop without it", call_id)
            found = {"error": "history unavailable"}
        self.send(self.pops.arrived(call_id, found, still_there=self.holds(call_id)))

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
