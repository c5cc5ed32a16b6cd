"""Resident notifications through the outbox to a real local SMTP server (aiosmtpd).

Two figures, on a fresh, seeded CRM database (SQLite in a temporary folder unless
`--database-url` names another, e.g. a scratch PostgreSQL database):

- throughput: N status changes enqueue N e-mails while no dispatcher runs; then the dispatcher
  starts and the clock runs until the SMTP server has received all N (notifications/s, target
  ≥ 200/s);
- latency: with the dispatcher running, status changes one after another (a pause between
  them); for each, the time from the status change's commit to the message in the SMTP
  server's hands (p50 / p99 / max).

The machine's load average is printed before and after: on a shared machine the figures
mean little without it.

    python -m bench.notifications [-n 1000] [--latency 200] [--database-url URL]
    ckm bench notifications …
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from crm_core.db import Database, migrate
from crm_core.notifications import store
from crm_core.notifications.dispatcher import Dispatcher, DispatchPolicy
from crm_core.notifications.senders import EmailSender, SmtpConfig
from crm_core.seed import seed
from crm_core.services import cases
from crm_core.services.cases import Actor, NewCase

CENTER, DEPT = Actor("bench"), Actor("department:bench")
CASE = NewCase("roads.pothole", "Dziura w jezdni (benchmark)", address="Marszałkowska 1",
               district="Śródmieście")


@dataclass
class Receiver:
    """The SMTP server's side: when each recipient's message arrived."""

    arrived: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.perf_counter()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.arrived.setdefault(rcpt, []).append(now)
        return "250 OK"

    def total(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.arrived.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def _forwarded_cases(db: Database, n: int, prefix: str) -> list[tuple[int, str]]:
    out = []
    for i in range(n):
        made = cases.create_case(db, CASE, by=CENTER)
        address = f"{prefix}{i}@bench.test"
        store.set_preference(db, made.case.id, "email", address, tracking_token=made.tracking_token)
        cases.transition_case(db, made.case.id, "forwarded", by=CENTER)  # tells nothing
        out.append((made.case.id, address))
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def run(db: Database, port: int, receiver: Receiver, n: int, latency_n: int, pause_s: float) -> int:
    sender = EmailSender(SmtpConfig(host="127.0.0.1", port=port, sender="19115 <19115@bench.test>"))
    policy = DispatchPolicy()
    burst = await asyncio.to_thread(_forwarded_cases, db, n, "burst")
    started = time.perf_counter()
    for case_id, _ in burst:
        await asyncio.to_thread(cases.transition_case, db, case_id, "in_progress", by=DEPT)
    enqueue_s = time.perf_counter() - started
    dispatcher = Dispatcher(db, email=sender, policy=policy)
    started = time.perf_counter()
    await dispatcher.start()
    try:
        complete = await _wait(lambda: receiver.total() >= n, 120 + n / 20)
        elapsed = time.perf_counter() - started
        print(f"throughput: {n} status changes enqueued in {enqueue_s:.2f} s "
              f"({n / enqueue_s:.0f}/s, each a transaction)")
        print(f"throughput: {receiver.total()} of {n} e-mails in the SMTP server's hands in {elapsed:.2f} s "
              f"= {receiver.total() / elapsed:.0f} notifications/s (target >= 200/s; "
              f"batch {policy.batch}, {policy.smtp_connections} SMTP connections)")
        if not complete:
            print("throughput: INCOMPLETE")
            return 1
        measured = await asyncio.to_thread(_forwarded_cases, db, latency_n, "latency")
        latencies: list[float] = []
        for case_id, address in measured:
            await asyncio.to_thread(cases.transition_case, db, case_id, "in_progress", by=DEPT)
            committed = time.perf_counter()
            if not await _wait(lambda a=address: a in receiver.arrived, 30):  # type: ignore[misc]
                print(f"latency: no message for {address} within 30 s")
                return 1
            latencies.append(receiver.arrived[address][0] - committed)
            await asyncio.sleep(pause_s)
    finally:
        await dispatcher.stop()
    ms = [x * 1000 for x in latencies]
    print(f"latency status change -> SMTP server, {len(ms)} changes one at a time: "
          f"p50 {_pct(ms, 0.5):.1f} ms, p99 {_pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, "
          f"mean {statistics.fmean(ms):.1f} ms")
    twice = [a for a, times in receiver.arrived.items() if len(times) > 1]
    print(f"exactly once: {len(receiver.arrived)} recipients, {len(twice)} got a message twice")
    return 0 if not twice else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.notifications", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--notifications", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=200, help="status changes timed one at a time")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between timed changes")
    parser.add_argument("--database-url", default="", help="a scratch database (default: SQLite in /tmp)")
    args = parser.parse_args(argv)
    print(f"before: {_load()}")
    with tempfile.TemporaryDirectory(prefix="ckm-bench-notify-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/ckm.sqlite3"
        migrate(url)
        db = Database(url)
        seed(db)
        receiver = Receiver()
        port = _free_port()
        controller = Controller(receiver, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            print(f"database {db.dialect}, SMTP server aiosmtpd on 127.0.0.1:{port}")
            result = asyncio.run(run(db, port, receiver, args.notifications, args.latency, args.pause))
        finally:
            controller.stop()
            db.dispose()
    print(f"after: {_load()}")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
