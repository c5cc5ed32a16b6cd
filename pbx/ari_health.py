"""Is Asterisk still answering? A probe of ARI's round trip and the verdict drawn from it.

Rules:
- `AriHealth` is pure: it is told each probe's outcome (round trip in seconds, or None for no
  answer within the probe's timeout) with its time, and keeps the verdict: `ok`, `slow` (the
  last answers took longer than `slow_s`), `unresponsive` (`misses` probes in a row got no
  answer) or `unknown` (nothing measured yet);
- a websocket that is still open says nothing about REST: a wedged Asterisk keeps the socket and
  stops answering requests, which is exactly what the probe catches;
- `AriProbe` is the thin loop around it: one probe request (`AriClient.ping`: a lookup in
  Asterisk's channel container, which `GET /asterisk/ping` does not touch) every `interval_s`,
  each with its own timeout, never more than one in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

log = logging.getLogger(__name__)


@dataclass
class AriHealth:
    slow_s: float = 0.5
    misses: int = 3
    state: str = "unknown"  # unknown | ok | slow | unresponsive
    missed: int = 0
    since: datetime | None = None
    last_rtt_s: float | None = None
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=5))
    # Every probe's outcome, None for no answer: the overload guard's view of the last few.
    outcomes: deque[float | None] = field(default_factory=lambda: deque(maxlen=5))

    def observe(self, rtt_s: float | None, at: datetime) -> str:
        """Fold one probe's outcome in; returns the (possibly new) state."""
        self.outcomes.append(rtt_s)
        if rtt_s is None:
            self.missed += 1
            new = "unresponsive" if self.missed >= self.misses else self.state
        else:
            self.missed = 0
            self.last_rtt_s = rtt_s
            self.recent.append(rtt_s)
            worst = sorted(self.recent)[len(self.recent) // 2]  # the median of recent answers
            new = "slow" if worst > self.slow_s else "ok"
        if new != self.state:
            self.state, self.since = new, at
        return self.state

    def guard_state(self) -> str:
        """The verdict the overload guard reads: `state`, or `unresponsive` when most of the
        last few probes got no answer (a wedging Asterisk answers one probe in three, which
        never makes the three misses in a row `state` waits for; seen: no caller shed while
        ARI took 6 s). Once the last two probes were answered, older misses no longer count:
        Asterisk answers again (a wedging one does not answer twice in a row; how slowly is
        the round trip's rule in the guard), and a stall that has passed must not keep
        shedding callers (Asterisk frozen 6 s in `ckm bench acd -n 400 --sides ckm`: misses
        kept counting and 211 of 400 callers were told "busy"; without them, 69)."""
        last = list(self.outcomes)[-2:]
        if len(last) == 2 and all(o is not None for o in last):
            return self.state
        missed = sum(1 for o in self.outcomes if o is None)
        if len(self.outcomes) >= 3 and missed * 2 > len(self.outcomes):
            return "unresponsive"
        return self.state

    def problem(self) -> str:
        """What an operator should read, or "" when all is well."""
        if self.state == "unresponsive":
            return (f"Asterisk does not answer ARI: {self.missed} requests in a row got no "
                    f"answer (since {self.since:%H:%M:%S} UTC)" if self.since else
                    "Asterisk does not answer ARI")
        if self.state == "slow" and self.last_rtt_s is not None:
            return f"Asterisk answers ARI slowly ({self.last_rtt_s * 1000:.0f} ms)"
        return ""


class AriProbe:
    def __init__(self, ping: Callable[[float], Awaitable[object]], health: AriHealth, *,
                 interval_s: float = 2.0, timeout_s: float = 1.0,
                 on_change: Callable[[AriHealth], None] | None = None) -> None:
        self.ping = ping
        self.health = health
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.on_change = on_change
        self._task: asyncio.Task[None] | None = None
        # How late the probe's own sleeps wake up: the event loop's lag, measured for free.
        self.lags: deque[float] = deque(maxlen=5)

    @property
    def loop_lag_s(self) -> float:
        """The median of the last few lags (one stall is not a trend)."""
        return sorted(self.lags)[len(self.lags) // 2] if self.lags else 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ari-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def probe_once(self) -> str:
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.ping(self.timeout_s), self.timeout_s)
            rtt: float | None = time.monotonic() - started
        except asyncio.CancelledError:
            raise
        except Exception:  # no answer, refused, a 5xx: all mean "not answering" here
            rtt = None
        before = self.health.state
        state = self.health.observe(rtt, datetime.now(UTC))
        if state != before:
            level = logging.ERROR if state == "unresponsive" else logging.WARNING
            if state == "ok":
                level = logging.INFO
            log.log(level, "ARI health: %s%s", state,
                    f" — {self.health.problem()}" if self.health.problem() else "")
            if self.on_change is not None:
                self.on_change(self.health)
        return state

    async def _run(self) -> None:
        while True:
            await self.probe_once()
            slept = time.monotonic()
            await asyncio.sleep(self.interval_s)
            self.lags.append(max(0.0, time.monotonic() - slept - self.interval_s))
