"""Resident notifications through the outbox to a real local SMTP server (aiosmtpd).

Two figures, on a fresh, seeded CRM database (SQLite in a temporary folder unless
`--database-url` names another, e.g. a scratch PostgreSQL database):

- throughput: N status changes enqueue N e-mails while no dispatcher runs; then the dispatcher
  starts and the clock runs until the SMTP server has received all N (notifications/s, target
  ≥ 200/s);
- latency: with the dispatcher running, status changes one after another (a pause between
  them); for each, the time from the status change's commit to the message in the SMTP
  server's hands (p50 / p99 / max).

The SMTP server runs in its own process (as a real one would: its CPU is not the dispatcher's
interpreter); arrival times are its wall clock, on the same machine.

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
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

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
    """When each recipient's message reached the SMTP server (wall clock, read from the
    server process's output)."""

    arrived: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, rcpt: str, at: float) -> None:
        with self.lock:
            self.arrived.setdefault(rcpt, []).append(at)

    def total(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.arrived.values())

    def follow(self, stream: IO[str]) -> None:
        for line in stream:
            rcpt, _, at = line.strip().partition("\t")
            if at:
                self.note(rcpt, float(at))


class _Reporter:
    """The SMTP server process's handler: one line per message, `recipient<TAB>time`."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        sys.stdout.write("".join(f"{rcpt}\t{now:.6f}\n" for rcpt in envelope.rcpt_tos))
        sys.stdout.flush()
        return "250 OK"


def serve_smtp(port: int) -> None:
    """The local SMTP server, in its own process (its CPU is not the dispatcher's GIL)."""
    controller = Controller(_Reporter(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin
    finally:
        controller.stop()


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
    started, wall_started = time.perf_counter(), time.time()
    await dispatcher.start()
    try:
        complete = await _wait(lambda: receiver.total() >= n, 120 + n / 20)
        elapsed = max(receiver.arrived[a][0] for a in receiver.arrived) - wall_started
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
            committed = time.time()
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
    parser.add_argument("--serve-smtp", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_smtp:
        serve_smtp(args.serve_smtp)
        return 0
    print(f"before: {_load()}")
    with tempfile.TemporaryDirectory(prefix="ckm-bench-notify-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/ckm.sqlite3"
        migrate(url)
        db = Database(url)
        seed(db)
        receiver = Receiver()
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "bench.notifications", "--serve-smtp", str(port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None and server.stdin is not None
        try:
            if server.stdout.readline().strip() != "ready":
                print("the SMTP server did not start")
                return 1
            threading.Thread(target=receiver.follow, args=(server.stdout,), daemon=True).start()
            print(f"database {db.dialect}, SMTP server aiosmtpd on 127.0.0.1:{port} (own process)")
            result = asyncio.run(run(db, port, receiver, args.notifications, args.latency, args.pause))
        finally:
            server.stdin.close()
            server.wait(10)
            db.dispose()
    print(f"after: {_load()}")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
