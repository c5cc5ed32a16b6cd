"""The notification dispatcher: an asyncio task of `ckm run` that drains the outbox.

Each round claims up to `batch` due notifications (`store.claim`: SKIP LOCKED on PostgreSQL,
the single write lock on SQLite), sends e-mail over up to `smtp_connections` parallel SMTP
connections on worker threads and SMS through the gateway concurrently, then records every
outcome in one transaction (`store.record`: sent, or back to pending with exponential backoff,
or failed after `max_attempts`). A round that found work is followed at once by the next; an
idle dispatcher waits for a wake-up (a transaction in this process that enqueued has committed)
or `poll_s`, whichever is first — notifications enqueued by another process are found by the
poll. The database being down only delays a round: nothing is claimed, nothing is lost.
A channel without a configured sender (no `smtp_host`, no `sms_gateway_url`) is not claimed:
its notifications wait, pending and listed, until one is configured. Phone calls are claimed by
their own loop on the same outbox (`crm_core.notifications.call_dispatcher`).

Stopping lets the round in flight finish, so no message the server accepted stays unmarked
(the at-least-once window is then only a crash; see `crm_core.notifications.store`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.notifications import store
from crm_core.notifications.senders import EmailSender, SmsGateway
from crm_core.notifications.store import Outcome, Outgoing

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DispatchPolicy:
    batch: int = 200
    poll_s: float = 2.0
    # Longer than any round takes: e-mail sending stops at half of it (the rest wait for the
    # next round), so a claim held by a live dispatcher does not expire under it.
    lease_s: float = 600.0
    max_attempts: int = 8
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    smtp_connections: int = 4
    sms_concurrency: int = 16
    error_pause_s: float = 5.0


class Dispatcher:
    def __init__(self, db: Database, *, email: EmailSender | None = None, sms: SmsGateway | None = None,
                 policy: DispatchPolicy | None = None) -> None:
        self.db = db
        self.email = email
        self.sms = sms
        self.policy = policy or DispatchPolicy()
        self.sent = 0
        self.failed_tries = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Its own threads: an SMTP server that hangs for its 30 s timeout must not take the
        # default executor's threads from the desk's CRM reads.
        self._pool: ThreadPoolExecutor | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c for c, sender in (("email", self.email), ("sms", self.sms)) if sender is not None)

    def wake(self) -> None:
        """Thread-safe: start the next round now."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self.policy.smtp_connections + 1,
                                  thread_name_prefix="ckm-notify")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        store.add_waker(self.wake)
        self._task = asyncio.create_task(self._run(), name="notification-dispatcher")
        log.info("notification dispatcher started (channels: %s)", ", ".join(self.channels) or "none")

    async def stop(self) -> None:
        store.remove_waker(self.wake)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.sms is not None:
            await self.sms.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_once()
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                log.warning("notification round failed (retrying): %s", exc)
                await self._pause(self.policy.error_pause_s)
                continue
            except Exception:
                log.exception("notification round failed (retrying)")
                await self._pause(self.policy.error_pause_s)
                continue
            if done == 0:
                await self._pause(self.policy.poll_s)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def run_once(self) -> int:
        """One round; returns how many notifications it tried."""
        channels = self.channels
        if not channels:
            return 0
        p = self.policy
        items = await self._blocking(store.claim, self.db, channels, limit=p.batch, lease_s=p.lease_s)
        if not items:
            return 0
        results = await self._send(items)
        await self._blocking(store.record, self.db, results, max_attempts=p.max_attempts,
                             backoff_base_s=p.backoff_base_s, backoff_cap_s=p.backoff_cap_s)
        ok = sum(1 for _, outcome in results if outcome.ok)
        self.sent += ok
        self.failed_tries += len(results) - ok
        if ok < len(results):
            errors = {o.error for _, o in results if not o.ok}
            log.warning("notifications: %d of %d not sent: %s", len(results) - ok, len(results),
                        "; ".join(sorted(e or "?" for e in errors))[:500])
        return len(items)

    async def _blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._pool is None:
            self._pool = self._new_pool()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def _send(self, items: Sequence[Outgoing]) -> list[tuple[Outgoing, Outcome]]:
        emails = [i for i in items if i.channel == "email"]
        texts = [i for i in items if i.channel == "sms"]
        jobs: list[asyncio.Future[list[tuple[Outgoing, Outcome]]]] = []
        if emails and self.email is not None:
            # One resident's messages share a connection, so they arrive in the order claimed
            # (accepted before resolved).
            n = max(1, min(self.policy.smtp_connections, len(emails)))
            chunks: list[list[Outgoing]] = [[] for _ in range(n)]
            for item in emails:
                chunks[zlib.crc32(item.to.encode()) % n].append(item)
            for chunk in filter(None, chunks):
                jobs.append(asyncio.ensure_future(self._send_email(chunk)))
        if texts and self.sms is not None:
            jobs.append(asyncio.ensure_future(self._send_sms(texts)))
        results: list[tuple[Outgoing, Outcome]] = []
        for batch in await asyncio.gather(*jobs):
            results.extend(batch)
        return results

    async def _send_email(self, chunk: list[Outgoing]) -> list[tuple[Outgoing, Outcome]]:
        assert self.email is not None
        # Half the lease: a round never outlives its claims (the lease is what keeps another
        # dispatcher from taking them).
        deadline = time.monotonic() + self.policy.lease_s / 2
        outcomes = await self._blocking(self.email.send_batch, chunk, deadline)
        return list(zip(chunk, outcomes, strict=True))

    async def _send_sms(self, items: list[Outgoing]) -> list[tuple[Outgoing, Outcome]]:
        sms = self.sms
        assert sms is not None
        limit = asyncio.Semaphore(self.policy.sms_concurrency)

        by_recipient: dict[str, list[Outgoing]] = {}
        for item in items:
            by_recipient.setdefault(item.to, []).append(item)

        async def in_order(mine: list[Outgoing]) -> list[tuple[Outgoing, Outcome]]:
            done = []
            for item in mine:  # one resident's texts one after another, in the order claimed
                async with limit:
                    done.append((item, await sms.send(item)))
            return done

        results: list[tuple[Outgoing, Outcome]] = []
        for batch in await asyncio.gather(*(in_order(m) for m in by_recipient.values())):
            results.extend(batch)
        return results
