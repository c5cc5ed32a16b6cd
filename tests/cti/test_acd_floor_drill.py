"""A busy hour on the pure core: 60 scripted agents, 200 callers arriving at a steady rate.

Agents answer after a delay (a few never answer), talk for scripted times; some callers give up,
some choose a callback. What a supervisor would check afterwards: every caller reached at most
one agent and exactly once, callers of one priority were answered in arrival order, and the
abandoned and callback counts on the wallboard match what happened.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import datetime, timedelta

from cti import commands as cmd
from cti import events as ev
from cti.config import Caller, QueueConfig, Strategy
from cti.drill import Drill
from cti.stats import LiveFigures


def test_busy_hour_each_caller_reaches_one_agent_in_order_and_the_counts_add_up() -> None:
    rnd = random.Random(19115)
    d = Drill(QueueConfig("general", strategy=Strategy.LONGEST_IDLE, ring_timeout_s=12,
                          wrapup_s=15, autopause_after=2, retry_s=3))
    sleepy = {"a07", "a33"}  # logged in, never pick up: auto-paused after two misses
    for i in range(60):
        d.login(f"a{i:02d}", "general")
    start = d.t
    arrivals = {f"c{n:03d}": n * 1.5 for n in range(200)}  # one caller every 1.5 s
    patience = {c: rnd.uniform(20, 400) for c in arrivals}  # when they would give up
    wants_callback = {c for c in arrivals if rnd.random() < 0.05}
    talk = {c: rnd.uniform(60, 300) for c in arrivals}

    pending: list[tuple[float, int, ev.AcdEvent]] = []
    counter = 0

    def later(when: float, event: ev.AcdEvent) -> None:
        nonlocal counter
        counter += 1
        pending.append((when, counter, event))

    def at(seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    for call_id, t in arrivals.items():
        later(t, ev.CallEnqueued(start, call_id, "general", Caller("+48220000000")))
        if call_id in wants_callback:
            later(t + 30, ev.CallbackRequested(start, call_id))
        later(t + patience[call_id], ev.CallerHungUp(start, call_id))

    bridged: Counter[str] = Counter()
    first_offer: list[str] = []
    abandoned: set[str] = set()
    callbacks: set[str] = set()
    now = 0.0
    while now < 4 * 3600:
        pending.sort(key=lambda p: (p[0], p[1]))
        deadline = d.acd.next_deadline()
        tick_at = (deadline - start).total_seconds() if deadline else None
        if pending and (tick_at is None or pending[0][0] <= tick_at):
            when, _, event = pending.pop(0)
            now = max(now, when)
            entry = d.acd.entries.get(getattr(event, "call_id", ""))
            if isinstance(event, ev.CallbackRequested):
                if entry is None or entry.callback:
                    continue  # answered (or gone) before pressing 1
                callbacks.add(event.call_id)
                later(now + 3, ev.CallerHungUp(start, event.call_id))  # hangs up, keeps place
            if isinstance(event, ev.CallerHungUp) and entry is not None and not entry.callback:
                abandoned.add(event.call_id)
            step = d.feed(dataclasses.replace(event, at=at(now)))
        elif tick_at is not None:
            now = max(now, tick_at)
            step = d.feed(ev.Tick(at(now)))
        else:
            break
        for c in step.commands:
            if isinstance(c, cmd.RingAgent):
                if c.call_id not in first_offer:
                    first_offer.append(c.call_id)
                if c.agent not in sleepy:
                    later(now + rnd.uniform(1, 6),
                          ev.AgentAnswered(start, c.call_id, c.agent, c.offer))
            elif isinstance(c, cmd.DialResident):
                later(now + 8, ev.ResidentAnswered(start, c.call_id))
            elif isinstance(c, cmd.BridgeCall):
                bridged[c.call_id] += 1
                later(now + talk[c.call_id], ev.CallerHungUp(start, c.call_id))

    assert set(bridged.values()) == {1}, "a caller was bridged twice"
    assert not set(bridged) & abandoned
    figures = LiveFigures()
    for s in d.steps:
        for n in s.notices:
            figures.apply(n, d.acd.queues)
    (q,) = figures.queues(d.acd, at(now))
    assert q.abandoned == len(abandoned) > 0
    assert figures.tallies["general"].callbacks_done == len(callbacks) > 0
    assert q.answered == len(bridged) - len(callbacks)
    assert len(bridged) + len(abandoned) == len(arrivals)
    assert (q.waiting, q.callbacks_pending) == (0, 0)
    # Fair: callers were first offered in the order they arrived (callbacks kept their place).
    assert first_offer == sorted(first_offer)
    assert {d.acd.agents[a].reason for a in sleepy} == {"autopause"}
