"""Loop watchdog: logs when something blocks the event loop longer than a threshold.

A blocked loop means every call in progress stops hearing events; the log line names how long.
It can only speak after the block ends, which is enough to find the culprit with py-spy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

log = logging.getLogger(__name__)


class LoopWatchdog:
    def __init__(self, threshold_s: float = 0.5, interval_s: float = 0.1) -> None:
        self.threshold_s = threshold_s
        self.interval_s = interval_s
        self.stalls: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval_s)
            lag = time.monotonic() - before - self.interval_s
            if lag > self.threshold_s:
                self.stalls.append(lag)
                log.warning("event loop blocked for %.2f s (threshold %.2f s)", lag,
                            self.threshold_s)
