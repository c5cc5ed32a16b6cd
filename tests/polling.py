"""Waiting in tests: poll for the thing itself, with a deadline, never sleep a guessed time.

A fixed sleep is too short on a loaded machine (a flaky failure) and too long everywhere else;
a poll returns as soon as the awaited state is there and fails with what it waited for.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def wait_until(what: str, probe: Callable[[], Awaitable[T | None]], timeout_s: float = ...,
                     every_s: float = ...) -> T: ...


@overload
async def wait_until(what: str, probe: Callable[[], T | None], timeout_s: float = ...,
                     every_s: float = ...) -> T: ...


async def wait_until(what: str, probe: Callable[[], Any], timeout_s: float = 5.0,
                     every_s: float = 0.02) -> Any:
    """Call `probe` (plain or async) until it returns something truthy, and return that;
    fail naming `what` when `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what} "
                                 f"(last: {found!r})")
        await asyncio.sleep(every_s)


def poll_until(what: str, probe: Callable[[], T | None], timeout_s: float = 5.0,
               every_s: float = 0.05) -> T:
    """`wait_until` for a test with no event loop of its own (a synchronous browser, a
    subprocess): call `probe` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what} "
                                 f"(last: {found!r})")
        time.sleep(every_s)
