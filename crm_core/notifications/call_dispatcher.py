"""The phone-call dispatcher: an asyncio task of `ckm run` that calls residents whose chosen
channel is `phone`, from the same outbox as e-mail and SMS.

Calls are not e-mails: one takes a minute (ringing, the message, the menu), and a resident may
be called only outside the quiet hours. So the `phone` channel has its own loop beside the
e-mail/SMS dispatcher, on the same table and the same claim/record functions
(`crm_core.notifications.store`): a row claimed here is leased to this process (SKIP LOCKED on
PostgreSQL), so never two calls for one notification at once. Each call's outcome is recorded
the moment it is known — at the answer, or when the call failed — not at the end of a batch,
so a call answered is `sent` before the resident has heard the message, and a crash after the
answer cannot cause a second call (see `crm_core.notifications.calls` for the rules).

Who places the call is a `PhoneCaller` given by the composition root (`ckm.assembly` plugs in
`pbx.notify_dial.NotifyDialer`): crm_core knows no telephony. Without one, `phone` rows wait,
pending and listed, as they did before calls were built.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import Notification, utcnow
from crm_core.notifications import store
from crm_core.notifications.calls import CallPolicy, QuietHours
from crm_core.notifications.store import Outcome, Outgoing
from ground.settings import Settings, SettingsError

log = logging.getLogger(__name__)
T = TypeVar("T")
CHANNEL = "phone"


class PhoneCaller(Protocol):
    def ready(self) -> bool:
        """Whether calls can be placed now (telephony connected): while not, nothing is
        claimed, so an Asterisk that is down costs no resident an attempt."""
        ...

    async def call(self, item: Outgoing, deadline_s: float) -> Outcome:
        """Call `item.to` and say `item.text`. Returns once the outcome is known: OK when the
        resident answered (the rest of the call goes on without the dispatcher), else the
        reason it was not answered. Gives up (not answered) after `deadline_s`."""
        ...

    def in_progress(self) -> int:
        """Calls not over yet (ringing, talking, or with a consultant)."""
        ...

    async def close(self) -> None:
        """ckm stops: end the calls still in progress."""
        ...


def defer_due(db: Database, until: datetime, *, now: datetime | None = None) -> int:
    """Move the phone notifications due by now (pending, or claimed by a dispatcher that
    died) to `until`: the end of the quiet hours. Returns how many."""
    now = now or utcnow()
    due = sa.or_(
        sa.and_(Notification.status == "pending", Notification.next_attempt_at <= now),
        sa.and_(Notification.status == "sending", Notification.claimed_until < now),
    )
    with db.writing() as session:
        result = session.execute(
            sa.update(Notification)
            .where(Notification.channel == CHANNEL, due)
            .values(status="pending", next_attempt_at=until, claimed_until=None),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)


class CallDispatcher:
    def __init__(self, db: Database, caller: PhoneCaller, policy: CallPolicy | None = None, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.caller = caller
        self.policy = policy or CallPolicy()
        self.clock = clock
        self.answered = 0
        self.unanswered = 0
        self.deferred = 0
        self._calls: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Thread-safe: look for due calls now."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        store.add_waker(self.wake)
        self._task = asyncio.create_task(self._run(), name="notification-calls")
        log.info("phone-call notifications started (%d lines, %d attempts, quiet %s-%s %s)",
                 self.policy.lines, self.policy.attempts, self.policy.quiet.start,
                 self.policy.quiet.end, self.policy.quiet.zone.key)

    async def stop(self) -> None:
        """Stop placing calls; calls ringing now are given up (their claims run out and they
        are tried again by the next dispatcher, the same as after a crash)."""
        store.remove_waker(self.wake)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._calls):
            task.cancel()
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)
        await self.caller.close()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception as exc:  # the database down: nothing claimed, nothing lost
                log.warning("phone-call round failed (retrying): %s", exc)
                await self._pause(self.policy.error_pause_s)
                continue
            await self._pause(self.policy.poll_s)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def run_once(self) -> int:
        """Defer what is due in the quiet hours, else start calls on the free lines; returns
        how many calls it started."""
        p = self.policy
        now = self.clock()
        if p.quiet.contains(now):
            moved = await asyncio.to_thread(defer_due, self.db, p.quiet.next_allowed(now), now=now)
            if moved:
                self.deferred += moved
                log.info("%d phone notifications deferred to the end of the quiet hours (%s)",
                         moved, p.quiet.next_allowed(now).astimezone(p.quiet.zone))
            return 0
        # A call keeps its line after its outcome is recorded (the message, a consultant).
        free = p.lines - max(len(self._calls), self.caller.in_progress())
        if free <= 0 or not self.caller.ready():
            return 0
        items = await asyncio.to_thread(store.claim, self.db, (CHANNEL,), limit=free,
                                        lease_s=p.lease_s, now=now)
        for item in items:
            task = asyncio.create_task(self._call(item), name=f"notify-call-{item.id}")
            self._calls.add(task)
            task.add_done_callback(self._call_done)
        return len(items)

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._calls.discard(task)
        self._wake.set()  # a line is free

    async def _call(self, item: Outgoing) -> None:
        try:
            outcome = await self.caller.call(item, self.policy.lease_s / 2)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug costs this try, never the dispatcher
            log.exception("notification %d: the call crashed", item.id)
            outcome = Outcome(False, error=f"the call crashed: {exc}")
        if outcome.ok:
            self.answered += 1
        else:
            self.unanswered += 1
            log.info("notification %d: call %d of %d to %s not answered: %s", item.id,
                     item.attempts, self.policy.attempts, item.to, outcome.error)
        p = self.policy
        await self._record(store.record, self.db, [(item, outcome)], max_attempts=p.attempts,
                           backoff_base_s=p.retry_s, backoff_cap_s=p.retry_cap_s,
                           now=self.clock())

    async def _record(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Record an outcome, retrying while the database is away (an answered call must end
        up `sent`, or its lease would run out and the resident be called again)."""
        delay = 0.5
        while True:
            try:
                return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                if self._stopping:
                    raise
                log.warning("recording a call's outcome failed (retrying): %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


def policy_from(settings: Settings) -> CallPolicy:
    """The call policy the settings describe (`notify_call_*`); a bad value is refused with
    the setting's name."""
    try:
        quiet = QuietHours.parse(settings.notify_call_quiet_hours)
    except ValueError as exc:
        raise SettingsError(f"setting notify_call_quiet_hours: {exc}") from None
    for name in ("notify_call_attempts", "notify_call_retry_minutes", "notify_call_lines"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"setting {name}: expected 1 or more, got {getattr(settings, name)}")
    retry_s = settings.notify_call_retry_minutes * 60.0
    return CallPolicy(attempts=settings.notify_call_attempts, retry_s=retry_s,
                      retry_cap_s=3 * retry_s, quiet=quiet, lines=settings.notify_call_lines)
