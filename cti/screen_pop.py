"""The screen-pop: what a consultant sees of a caller while their phone rings.

Rules:
- A call's CRM history is asked for once, when the call first joins a queue. An overflow, a
  blind transfer or a callback's retry queues the same call again: it keeps its history and
  nothing is asked twice.
- An offer never waits for the history. When it is not there yet, the pop goes out with
  `history_pending: true` and the agent is remembered; when the history arrives each
  remembered agent gets one `screen_pop_history` message, and later offers carry it at once.
- A history that arrives after the call has gone is dropped. A call is gone when the ACD no
  longer holds it after the whole step (a blind transfer ends the call and queues it again in
  the same step, and keeps its history); then its history and remembered agents are forgotten.
- Pure: no I/O, no clock. The notifier fetches and sends; `ScreenPops` decides what to send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cti import notices as nt
from cti.config import CallContext

History = Mapping[str, Any]


@dataclass(frozen=True)
class HubMessage:
    """One event for the CTI hub: name, JSON-ready data, and who receives it (the consultants
    named in `agents`; supervisors and admins as well when `supervisors`)."""

    event: str
    data: dict[str, Any]
    agents: tuple[str, ...] = ()
    supervisors: bool = True


@dataclass(frozen=True)
class HistoryWanted:
    """Fetch this caller's history for this call (the notifier does, in the background)."""

    call_id: str
    number: str


@dataclass(frozen=True)
class PopStep:
    """What one notice means for the pops: an offer to send, a history to fetch."""

    offer: HubMessage | None = None
    fetch: HistoryWanted | None = None


def offer_pop(offer: nt.CallOffered, history: History | None, pending: bool) -> dict[str, Any]:
    """The pop of a ringing offer (a callback's too: its caller is the resident to ring)."""
    return {"caller_number": offer.caller.number, "caller_name": offer.caller.name,
            **context_pop(offer.context, history), "history_pending": pending}


def context_pop(context: CallContext, history: History | None) -> dict[str, Any]:
    """What the IVR learnt and what the CRM knows: also the pop of a waiting call in a
    snapshot (its caller is shown beside it)."""
    return {"ivr_path": list(context.ivr_path), "category": context.category,
            "transcript": context.transcript, "history": history}


def offered_message(offer: nt.CallOffered, history: History | None,
                    pending: bool) -> HubMessage:
    return HubMessage("call_offered", {
        "call_id": offer.call_id, "queue": offer.queue, "agent": offer.agent,
        "waited_s": round(offer.waited_s, 1), "callback": offer.callback,
        "at": offer.at.isoformat(), "screen_pop": offer_pop(offer, history, pending)},
        agents=(offer.agent,))


@dataclass
class ScreenPops:
    """Caller histories by call, and the agents whose pop went out before the history.

    `fetching`: whether there is a history provider at all; without one no pop is pending."""

    fetching: bool
    histories: dict[str, History | None] = field(default_factory=dict)  # None: asked, not here
    waiting: dict[str, list[str]] = field(default_factory=dict)  # call -> agents to complete

    def notice(self, n: nt.Notice, holds: Callable[[str], bool]) -> PopStep:
        """`holds`: whether the ACD still has a call, after the step that emitted `n`."""
        match n:
            case nt.CallQueued() if self.queued(n.call_id):
                return PopStep(fetch=HistoryWanted(n.call_id, n.caller.number))
            case nt.CallOffered():
                return PopStep(offer=self.offered(n))
            case nt.CallEnded() | nt.CallLeftQueue() if not holds(n.call_id):
                self.forget(n.call_id)
        return PopStep()

    def queued(self, call_id: str) -> bool:
        """The call joined a queue: True when its history is to be fetched now."""
        if not self.fetching or call_id in self.histories:
            return False
        self.histories[call_id] = None
        return True

    def offered(self, offer: nt.CallOffered) -> HubMessage:
        history = self.histories.get(offer.call_id)
        pending = self.fetching and history is None
        if pending:
            self.waiting.setdefault(offer.call_id, []).append(offer.agent)
        return offered_message(offer, history, pending)

    def arrived(self, call_id: str, history: History, *, still_there: bool
                ) -> HubMessage | None:
        """The history came (or the error that stands for it): the message that completes the
        pops sent without it, if any agent is waiting for it."""
        if not still_there:
            self.forget(call_id)
            return None
        self.histories[call_id] = history
        agents = self.waiting.pop(call_id, [])
        if not agents:
            return None
        return HubMessage("screen_pop_history", {"call_id": call_id, "history": history},
                          agents=tuple(agents))

    def history(self, call_id: str) -> History | None:
        return self.histories.get(call_id)

    def forget(self, call_id: str) -> None:
        self.histories.pop(call_id, None)
        self.waiting.pop(call_id, None)
