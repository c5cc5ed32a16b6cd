"""Token buckets: `rate` requests a minute with bursts up to `burst`, per key.

In memory, per process: one `ckm run` serves the whole center (see ARCHITECTURE.md). The table
is pruned of full buckets when it grows, so a scan from many addresses cannot exhaust memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_KEYS = 50_000


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def hit(self, scope: str, key: str, rate_per_min: int, burst: int | None = None) -> float | None:
        """Take one token; None if allowed, else seconds until one is available."""
        capacity = float(burst if burst is not None else max(1, rate_per_min))
        per_s = rate_per_min / 60.0
        now = self._clock()
        tokens, last = self._buckets.get((scope, key), (capacity, now))
        tokens = min(capacity, tokens + (now - last) * per_s)
        if tokens < 1.0:
            self._buckets[(scope, key)] = (tokens, now)
            return (1.0 - tokens) / per_s
        if len(self._buckets) >= MAX_KEYS:
            self._prune(now, per_s)
        self._buckets[(scope, key)] = (tokens - 1.0, now)
        return None

    def _prune(self, now: float, per_s: float) -> None:
        # Buckets idle for over a minute are full again at any rate we use: forget them.
        stale = [k for k, (_, last) in self._buckets.items() if now - last > 60.0]
        for k in stale:
            del self._buckets[k]
        if len(self._buckets) >= MAX_KEYS:
            self._buckets.clear()
