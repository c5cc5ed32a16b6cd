"""In-process publish/subscribe for domain events.

Rules: publishing never blocks and never raises into the publisher — telephony must not stop
because a subscriber (the CRM recorder, the CTI hub, metrics) is slow or broken. Each subscriber
gets its own queue and task, so events reach it in publication order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Subscriber = Callable[[Any], Awaitable[None]]
BatchSubscriber = Callable[[list[Any]], Awaitable[None]]


class EventBus:
    def __init__(self, max_backlog: int = 10_000) -> None:
        self._subscribers: list[tuple[str, asyncio.Queue[Any], asyncio.Task[None]]] = []
        self._max_backlog = max_backlog

    def subscribe(self, name: str, handler: Subscriber) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue(self._max_backlog)
        task = asyncio.get_running_loop().create_task(self._pump(name, queue, handler))
        self._subscribers.append((name, queue, task))

    def subscribe_batches(self, name: str, handler: BatchSubscriber) -> None:
        """As `subscribe`, but the handler is given everything queued since its last call, in
        publication order, as one list: for a subscriber whose cost is per call rather than per
        event (the CRM's journal makes one durable commit of a whole list)."""
        queue: asyncio.Queue[Any] = asyncio.Queue(self._max_backlog)
        task = asyncio.get_running_loop().create_task(self._pump_batches(name, queue, handler))
        self._subscribers.append((name, queue, task))

    def publish(self, event: Any) -> None:
        for name, queue, _ in self._subscribers:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.error("subscriber %s is %d events behind; dropping %r", name,
                          queue.qsize(), event)

    async def drain(self) -> None:
        """Wait until every subscriber has handled what was published so far."""
        for _, queue, _ in self._subscribers:
            await queue.join()

    async def close(self) -> None:
        await self.drain()
        for _, _, task in self._subscribers:
            task.cancel()
        for _, _, task in self._subscribers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._subscribers.clear()

    @staticmethod
    async def _pump(name: str, queue: asyncio.Queue[Any], handler: Subscriber) -> None:
        while True:
            event = await queue.get()
            try:
                await handler(event)
            except Exception:
                log.exception("subscriber %s failed on %r", name, event)
            finally:
                queue.task_done()

    @staticmethod
    async def _pump_batches(name: str, queue: asyncio.Queue[Any],
                            handler: BatchSubscriber) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await handler(batch)
            except Exception:
                log.exception("subscriber %s failed on %d events from %r", name, len(batch),
                              batch[0])
            finally:
                for _ in batch:
                    queue.task_done()
