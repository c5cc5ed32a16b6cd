"""Today's chart for the wallboard: calls per 15 minutes and the service level per slot.

Fed by the domain-event bus (CallQueued, AgentConnected, CallLeftQueue, CallbackRequested), so it costs the
telephony path nothing; a wallboard opened mid-day loads it once, then keeps it current from
the CTI websocket's call_queued / call_answered / call_left_queue events (no polling). Slots
are local Warsaw time, the day the supervisors think in.

The day starts at midnight, not when the center starts: at start-up the chart is filled from
the calls the CRM recorded since midnight (`backfill`), up to the moment it subscribed to the
bus; from then on the bus counts. Each figure lands in the slot of its own moment (offered:
joining the queue, answered: connecting, abandoned: hanging up), from either source alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from crm_core.services.contact_center import QueuedCallView
from ground import events as domain

WARSAW = ZoneInfo("Europe/Warsaw")
SLOTS = 96  # 24 h of 15 minutes
DEFAULT_SL_S = 30.0


@dataclass
class Slot:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0


@dataclass
class TodayChart:
    sl_threshold_s: dict[str, float] = field(default_factory=dict)  # queue → seconds
    day: date | None = None
    slots: list[Slot] = field(default_factory=lambda: [Slot() for _ in range(SLOTS)])
    # Calls whose resident asked to be called back (the callback keeps the call's id).
    callbacks: set[str] = field(default_factory=set)

    def backfill(self, calls: list[QueuedCallView], until: datetime) -> int:
        """Count calls recorded before `until` (when the bus took over); returns how many.
        `until`'s day is the chart's: a call that joined yesterday counts only what happened
        to it today (an answer after midnight), as in the reports."""
        today = until.astimezone(WARSAW).date()
        if self.day != today:
            self.day = today
            self.slots = [Slot() for _ in range(SLOTS)]
        for call in calls:
            self._slot(call.queued_at).offered += 1
            if call.callback_requested_at is not None:
                # The resident asked to be called back: the callback's connection is not an
                # answer, and hanging up after asking is not abandoning (the reports' and the
                # live figures' definitions).
                continue
            if call.connected_at is not None and call.connected_at < until:
                slot = self._slot(call.connected_at)
                slot.answered += 1
                if (call.wait_s or 0.0) <= self.sl_threshold_s.get(call.queue, DEFAULT_SL_S):
                    slot.answered_in_sl += 1
            elif call.abandoned_at is not None and call.abandoned_at < until:
                self._slot(call.abandoned_at).abandoned += 1
        return len(calls)

    def _slot(self, at: datetime) -> Slot:
        local = at.astimezone(WARSAW)
        if self.day is None or local.date() > self.day:
            self.day = local.date()
            self.slots = [Slot() for _ in range(SLOTS)]
            self.callbacks.clear()
        if local.date() < self.day:  # yesterday's straggler (a call that crossed midnight)
            return Slot()
        return self.slots[(local.hour * 60 + local.minute) // 15]

    async def on_event(self, event: Any) -> None:
        if isinstance(event, domain.CallQueued):
            self._slot(event.at).offered += 1
        elif isinstance(event, domain.CallbackRequested):
            self.callbacks.add(event.call_id)
        elif isinstance(event, domain.AgentConnected):
            if event.call_id in self.callbacks:
                return  # a callback reaching the resident: counted as a callback, not answered
            slot = self._slot(event.at)
            slot.answered += 1
            if event.wait_s <= self.sl_threshold_s.get(event.queue, DEFAULT_SL_S):
                slot.answered_in_sl += 1
        elif isinstance(event, domain.CallLeftQueue) and event.reason == "abandoned":
            # The ACD's word, as the live figures and the reports count (pbx's CallEnded
            # says only that the caller hung up while queued, answered or not).
            self._slot(event.at).abandoned += 1

    def view(self) -> dict[str, Any]:
        return {"day": self.day.isoformat() if self.day else None,
                "slots": [[s.offered, s.answered, s.answered_in_sl, s.abandoned]
                          for s in self.slots]}


def midnight(at: datetime) -> datetime:
    """The start of `at`'s day in Warsaw, as an aware datetime."""
    return datetime.combine(at.astimezone(WARSAW).date(), time(0), tzinfo=WARSAW)
