"""Login throttling and the cost of password checks, kept away from the call path.

Rules:
- Failures are counted per account and per client address (the address as ground.edge's
  forwarded middleware leaves it in `request.remote`: behind a trusted proxy, the client's).
  After `account_limit` failures within `window_s` (default 5 in 15 minutes) an account is
  locked; an address after `address_limit` (default 20, several consultants may share a NAT).
  The lock lasts `base_delay_s` and doubles with each further failure, up to `max_delay_s`;
  while locked every attempt is answered 429 with Retry-After *without* checking the password
  (a right password does not open a locked account, and a locked guesser costs no CPU).
  A successful login clears the account's count.
- Password checks (scrypt, ~0.4 s of one core each) run in a small thread pool of their own,
  never in the default executor the CRM lookups of calls and screen-pops use, and at most
  `concurrency` at a time (default: half the cores, at least one). When more than
  `max_waiting` logins already wait their turn the next one is answered 429 at once: a login
  flood queues nothing up and leaves the other cores to the calls. hashlib.scrypt releases
  the GIL, so the event loop keeps running while a check is computed.
- State is in memory, per process, bounded (`max_keys` accounts or addresses; the stalest go
  first). A restart forgets it, which only ever helps someone who was locked.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

TEXT = {  # (pl, en)
    "locked": ("Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za {wait}.",
               "Too many failed login attempts. Try again in {wait}."),
    "busy": ("Serwer obsługuje teraz wiele logowań naraz. Spróbuj ponownie za chwilę.",
             "The server is handling many logins at once. Try again in a moment."),
}


class Busy(Exception):
    """Too many logins already wait for a password check."""


def wait_words(seconds: float) -> str:
    s = max(1, math.ceil(seconds))
    return f"{s} s" if s < 60 else f"{math.ceil(s / 60)} min"


def message(kind: str, lang: str, retry_after: float = 0.0) -> str:
    pl, en = TEXT[kind]
    return (en if lang == "en" else pl).format(wait=wait_words(retry_after))


class _Counter:
    """Failure times of one key within the window, and until when it is locked."""

    __slots__ = ("failures", "locked_until")

    def __init__(self) -> None:
        self.failures: deque[float] = deque(maxlen=64)
        self.locked_until = 0.0


class LoginGuard:
    def __init__(self, *, account_limit: int = 5, address_limit: int = 20,
                 window_s: float = 15 * 60, base_delay_s: float = 30.0,
                 max_delay_s: float = 15 * 60, concurrency: int | None = None,
                 max_waiting: int = 16, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.account_limit = account_limit
        self.address_limit = address_limit
        self.window_s = window_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.concurrency = concurrency or max(1, (os.cpu_count() or 2) // 2)
        self.max_waiting = max_waiting
        self.max_keys = max_keys
        self.clock = clock
        self._counters: dict[tuple[str, str], _Counter] = {}
        self._slots = asyncio.Semaphore(self.concurrency)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ckm-login")
        self.waiting = 0
        self.running = 0
        self.peak = 0  # most password checks ever running at once (the tests read it)

    # --- throttle

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("account", username.strip().casefold()[:64]), ("address", address)

    def _limit(self, key: tuple[str, str]) -> int:
        return self.account_limit if key[0] == "account" else self.address_limit

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this account and address may try again; 0 when they may now."""
        now = self.clock()
        wait = 0.0
        for key in self._keys(username, address):
            counter = self._counters.get(key)
            if counter is not None and counter.locked_until > now:
                wait = max(wait, counter.locked_until - now)
        return wait

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(username, address):
            counter = self._counters.pop(key, None) or _Counter()
            self._counters[key] = counter  # re-inserted: the dict's order is staleness
            while counter.failures and counter.failures[0] <= now - self.window_s:
                counter.failures.popleft()
            counter.failures.append(now)
            over = len(counter.failures) - self._limit(key)
            if over >= 0:
                delay = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(over, 30))
                counter.locked_until = max(counter.locked_until, now + delay)
        while len(self._counters) > self.max_keys:
            del self._counters[next(iter(self._counters))]

    def succeeded(self, username: str, address: str) -> None:
        self._counters.pop(self._keys(username, address)[0], None)

    # --- password checks

    async def check(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a password check `fn(*args)` in the guard's pool, `concurrency` at a time."""
        if self.waiting >= self.max_waiting:
            raise Busy
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self.running -= 1
            self._slots.release()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


LOGIN_GUARD: web.AppKey[LoginGuard] = web.AppKey("desk_login_guard", LoginGuard)


def install(app: web.Application, guard: LoginGuard | None = None) -> LoginGuard:
    guard = guard or LoginGuard()
    app[LOGIN_GUARD] = guard

    async def close(app: web.Application) -> None:
        guard.close()

    app.on_cleanup.append(close)
    return guard
