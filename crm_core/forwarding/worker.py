"""The forwarder: an asyncio task of `ckm run` that sends forwarded cases to departments' own
systems and asks their Open311 servers what became of them.

Each round: claim due forwards (`outbox.claim`), send them — Open311 POSTs concurrently,
e-mails over one SMTP connection on a worker thread (the notifications' SMTP settings and
sender) — and record each outcome (`outbox.record`); then poll the Open311 requests that are
due (`outbox.due_polls`: every `poll_s`), turning a token into an id first when the server gave
only a token, and hand what each server says to `answers.apply_remote`. A round that found
work is followed at once by the next; an idle worker waits for a wake-up (a forward enqueued
by this process has committed) or a short while. The database or a remote server being down
delays a round; nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core import mail_tokens
from crm_core.db import Database
from crm_core.forwarding import answers, message, outbox
from crm_core.forwarding.open311_client import Open311Client, Photo, RemoteError
from crm_core.forwarding.outbox import Delivered, ForwardJob, PollJob
from crm_core.notifications.senders import EmailSender
from crm_core.notifications.store import Outgoing
from crm_core.services.forwarding import FORWARD_FLAG

log = logging.getLogger(__name__)
_PHOTO = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")
_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_CASE_KEY = re.compile(r"^case:(\d+):")

# --- wake-ups: a worker in this process learns at once that a forward was committed.
_wakers: list[Callable[[], None]] = []
_wakers_lock = threading.Lock()


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(FORWARD_FLAG, False):
        with _wakers_lock:
            callbacks = list(_wakers)
        for callback in callbacks:
            callback()


@sa.event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(FORWARD_FLAG, None)


@dataclass(frozen=True)
class ForwardPolicy:
    batch: int = 50
    idle_s: float = 2.0  # how often an idle worker looks for due work it was not woken for
    poll_s: float = 300.0  # how often each open Open311 request is asked about
    lease_s: float = 600.0
    max_attempts: int = 8
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    error_pause_s: float = 5.0


@dataclass(frozen=True)
class ReplyAddresses:
    """Where answers by e-mail go: the center's reply address and the tags' key."""

    base: str
    secret: bytes

    def for_case_key(self, who: str, key: str) -> str | None:
        found = _CASE_KEY.match(key)
        return mail_tokens.reply_address(self.base, self.secret, who, int(found.group(1))) if found else None


class Forwarder:
    def __init__(self, db: Database, *, public_base_url: str, media_dir: Path | None = None,
                 email: EmailSender | None = None, replies: ReplyAddresses | None = None,
                 policy: ForwardPolicy | None = None) -> None:
        self.db = db
        self.public_base_url = public_base_url.rstrip("/")
        self.media_dir = media_dir
        self.email = email
        self.replies = replies
        if email is not None and replies is not None:
            email.reply_to = lambda item: replies.for_case_key("d", item.key)
        self.policy = policy or ForwardPolicy()
        self.open311 = Open311Client()
        self.sent = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return ("open311", "email") if self.email is not None else ("open311",)

    def wake(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        with _wakers_lock:
            _wakers.append(self.wake)
        self._task = asyncio.create_task(self._run(), name="case-forwarder")
        log.info("forwarder started (channels: %s)", ", ".join(self.channels))

    async def stop(self) -> None:
        with _wakers_lock:
            if self.wake in _wakers:
                _wakers.remove(self.wake)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.open311.close()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_once()
            except Exception as exc:  # the database down, mostly: try again shortly
                log.warning("forwarding round failed (retrying): %s", exc)
                await self._pause(self.policy.error_pause_s)
                continue
            if done == 0:
                await self._pause(self.policy.idle_s)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def run_once(self) -> int:
        """One round of sending and polling; returns how many forwards and polls it handled."""
        p = self.policy
        jobs = await asyncio.to_thread(outbox.claim, self.db, self.channels, limit=p.batch,
                                       lease_s=p.lease_s)
        if jobs:
            results = await self._send(jobs)
            await asyncio.to_thread(outbox.record, self.db, results, poll_s=p.poll_s,
                                    max_attempts=p.max_attempts, backoff_base_s=p.backoff_base_s,
                                    backoff_cap_s=p.backoff_cap_s)
            ok = sum(1 for _, d in results if d.ok)
            self.sent += ok
            if ok < len(results):
                log.warning("forwards: %d of %d not delivered: %s", len(results) - ok, len(results),
                            "; ".join(sorted({d.error or "?" for _, d in results if not d.ok}))[:500])
        polls = await asyncio.to_thread(outbox.due_polls, self.db, poll_s=p.poll_s, limit=p.batch)
        for poll in polls:
            await self._poll(poll)
        return len(jobs) + len(polls)

    # --- sending

    def _photo(self, case_id: int) -> tuple[Path, str] | None:
        if self.media_dir is None:
            return None
        folder = self.media_dir / str(case_id)
        try:
            names = sorted(n for n in os.listdir(folder) if _PHOTO.match(n))
        except FileNotFoundError:
            return None
        return (folder / names[0], names[0]) if names else None

    def _photo_url(self, case_id: int) -> str | None:
        found = self._photo(case_id)
        return f"{self.public_base_url}/portal/media/{case_id}/{found[1]}" if found else None

    async def _send(self, jobs: list[ForwardJob]) -> list[tuple[ForwardJob, Delivered]]:
        posts = [j for j in jobs if j.channel == "open311"]
        mails = [j for j in jobs if j.channel == "email"]
        results: list[tuple[ForwardJob, Delivered]] = []
        if mails:
            results += await asyncio.to_thread(self._send_mails, mails)
        if posts:
            results += await asyncio.gather(*(self._post(j) for j in posts))
        return results

    async def _post(self, job: ForwardJob) -> tuple[ForwardJob, Delivered]:
        photo_url = self._photo_url(job.case_id)
        try:
            fields = message.open311_fields(job, photo_url)
        except ValueError as exc:  # the department's code map cannot be read
            return job, Delivered(False, permanent=True, error=f"service code map: {exc}")
        photo = None
        found = self._photo(job.case_id)
        if found is not None:
            data = await asyncio.to_thread(found[0].read_bytes)
            photo = Photo(data, found[1], _TYPES[found[1].rsplit(".", 1)[1]])
        try:
            posted = await self.open311.post_request(job.target, fields, photo)
        except RemoteError as exc:
            return job, Delivered(False, permanent=exc.permanent, error=str(exc))
        log.info("case %s forwarded to %s by Open311: %s", job.case_number, job.department,
                 posted.service_request_id or f"token {posted.token}")
        return job, Delivered(True, remote_id=posted.service_request_id, remote_token=posted.token)

    def _send_mails(self, jobs: list[ForwardJob]) -> list[tuple[ForwardJob, Delivered]]:
        assert self.email is not None
        items = []
        for job in jobs:
            hint = ("" if self.replies is not None else
                    "(Odpowiedzi e-mailem nie są jeszcze odbierane przez 19115: prosimy o kontakt "
                    "telefoniczny.)")
            text = message.email_text(job, self._photo_url(job.case_id), hint)
            items.append(Outgoing(job.id, job.key, "email", job.target, "pl", message.email_subject(job),
                                  text, None, job.attempts, job.created_at))
        outcomes = self.email.send_batch(items)
        return [(job, Delivered(o.ok, permanent=o.permanent, error=o.error))
                for job, o in zip(jobs, outcomes, strict=True)]

    # --- polling

    async def _poll(self, poll: PollJob) -> None:
        try:
            remote_id = poll.remote_id
            if remote_id is None and poll.remote_token is not None:
                remote_id = await self.open311.id_for_token(poll.endpoint, poll.remote_token)
                if remote_id is None:
                    return  # the server has not made the request yet: ask again next time
                await asyncio.to_thread(outbox.record_remote_id, self.db, poll.id, remote_id)
            if remote_id is None:
                return
            remote = await self.open311.get_request(poll.endpoint, remote_id)
        except RemoteError as exc:
            await asyncio.to_thread(outbox.record_poll_error, self.db, poll.id, str(exc))
            return
        done = await asyncio.to_thread(answers.apply_remote, self.db, poll.id, remote)
        if done is not None:
            log.info("case %d: the department's server says %s (%s)", poll.case_id, remote.status, done)
