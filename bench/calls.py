"""Call set-up through the controller versus the same flow in pure dialplan, in one run.

Both flows: a Local channel into [ckm-bench]; the callee half answers, plays `beep`, hangs up.
`controller` does it over ARI (Stasis → controller answers → play → hang up); `native` in
dialplan. The caller halves enter this benchmark's own Stasis app, so both flows are driven
and timed by the same code. CPU comes from /proc (utime+stime) of Asterisk and the controller.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ground.settings import Settings
from pbx import provision
from pbx.ari_client import AriClient, AriError, new_id

TICK = os.sysconf("SC_CLK_TCK")
LATENCY_TARGET = 1.5  # controller / native, mean and p99 of originate → answer
CPU_TARGET = 1.2


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Run:
    name: str
    calls: int
    concurrency: int
    rate: float = 0.0  # calls started per second (open loop); 0: as concurrency allows
    answered: int = 0
    failed: int = 0
    wall_s: float = 0.0
    asterisk_cpu_s: float = 0.0
    controller_cpu_s: float = 0.0
    answer_latency_s: list[float] = field(default_factory=list)
    stasis_to_answer_s: list[float] = field(default_factory=list)
    stasis_lag_s: list[float] = field(default_factory=list)  # Asterisk → controller
    asterisk_answer_s: list[float] = field(default_factory=list)  # originate → answered in Asterisk
    ari_events: dict[str, int] = field(default_factory=dict)  # the controller's, by type
    ari_requests: dict[str, int] = field(default_factory=dict)  # the controller's, by kind
    # By the callee half's channel id: (originate sent, the caller half answered in Asterisk),
    # epoch seconds; laid beside the controller's answer trace (see `answer_path`).
    originated: dict[str, tuple[float, float]] = field(default_factory=dict)
    answer_trace: list[list[Any]] = field(default_factory=list)

    @property
    def cpu_per_call_ms(self) -> float:
        return 1000 * (self.asterisk_cpu_s + self.controller_cpu_s) / max(1, self.answered)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(client: AriClient, endpoint: str, run: Run, timeout: float = 20,
                route_app: str = "ckm") -> None:
    """Place `run.calls` calls: `run.concurrency` at a time (a closed loop: a side whose calls
    end sooner is sent more per second), or, with `run.rate`, the i-th call at i / rate s
    after the start whatever the others are doing (an open loop: both sides get the same
    calls per second, so their latencies are compared at the same load)."""
    sem = asyncio.Semaphore(run.concurrency)
    begun = time.monotonic()

    async def one(i: int) -> None:
        if run.rate:
            await asyncio.sleep(max(0.0, begun + i / run.rate - time.monotonic()))
        async with sem:
            caller = new_id("bench")
            callee = f"{caller}-2"  # the Local pair's other half: the one the controller answers
            answered = client.expect("StasisStart", caller)
            ended = client.expect("StasisEnd", caller)
            t0, wall0 = time.monotonic(), datetime.now(UTC)
            try:
                await client.originate(endpoint, channel_id=caller, other_channel_id=callee,
                                       app=client.app, timeout=15,
                                       caller_id='"Bench" <+48600000000>',
                                       variables={"_CKM_ROUTE_APP": route_app})
                start = await asyncio.wait_for(answered, timeout)
                run.answer_latency_s.append(time.monotonic() - t0)
                if start.timestamp is not None:
                    # When Asterisk itself had the caller answered (its event's time).
                    run.asterisk_answer_s.append((start.timestamp - wall0).total_seconds())
                    run.originated[callee] = (wall0.timestamp(), start.timestamp.timestamp())
                await asyncio.wait_for(ended, timeout)
                run.answered += 1
            except (TimeoutError, AriError):
                run.failed += 1
                await client.hangup(caller)

    await asyncio.gather(*(one(i) for i in range(run.calls)))
    run.wall_s = time.monotonic() - begun


CENTER_LOG = Path(tempfile.gettempdir()) / "ckm-bench-center.log"


def start_controller() -> subprocess.Popen[str]:
    # The center with the benchmark's own flow loaded (`ckm run` serves production scripts only).
    # Its output goes to a file (a pipe nobody reads while calls run would fill and block it).
    out = CENTER_LOG.open("w")
    try:
        return subprocess.Popen([sys.executable, "-m", "bench.center"], stdout=out,
                                stderr=subprocess.STDOUT, text=True)
    finally:
        out.close()


async def wait_app(client: AriClient, app: str, within_s: float = 90.0) -> None:
    # The center loads its scripts, prompts, migrations and speech models first: ~5 s on a
    # quiet machine, over 10 s at load 15 (a 10 s limit failed the benchmark there).
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await client.request("GET", f"/applications/{app}", gone_ok=True) is not None:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the controller never registered ARI app {app!r} in {within_s:.0f} s")


def sandbox_asterisk(settings: Settings) -> int:
    """Start (or reuse) the sandbox Asterisk and return its pid, whose CPU the benches read."""
    target = provision.select(settings)
    if not isinstance(target, provision.Sandbox):
        raise RuntimeError("the side-by-side benchmark measures the sandbox Asterisk's CPU")
    target.up(settings.data_dir / "logs")
    pid = target.pid()
    assert pid is not None
    return pid


async def bench(settings: Settings, calls: int, concurrency: int, rate: float = 0.0
                ) -> list[Run]:
    ast_pid = sandbox_asterisk(settings)
    # Its originates come 50 at a time: a warm pool keeps Asterisk's listen backlog out of
    # both sides' figures (see pbx.ari_client.POOL_SIZE).
    client = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                       "ckm-bench-load", warm_pool=True)
    # It times its calls by their StasisStart and StasisEnd; the ~10 other events of each call
    # would only load the machine both sides are measured on.
    client.allowed_events = ("StasisStart", "StasisEnd")
    await client.start()
    if not await client.wait_connected(5):
        raise RuntimeError(client.last_error)
    await client.pool_opened()
    runs = []
    try:
        # Warm-up so neither flow pays for first-use costs (codec paths, file cache).
        await drive(client, "Local/native@ckm-bench", Run("warm", 20, 10))
        native = Run("native dialplan", calls, concurrency, rate)
        a0 = cpu_seconds(ast_pid)
        await drive(client, "Local/native@ckm-bench", native)
        native.asterisk_cpu_s = cpu_seconds(ast_pid) - a0
        runs.append(native)

        ctl = start_controller()
        try:
            await wait_app(client, settings.ari_app)
            await drive(client, "Local/controller@ckm-bench", Run("warm", 20, 10))
            controller = Run("controller (ARI)", calls, concurrency, rate)
            a0, c0 = cpu_seconds(ast_pid), cpu_seconds(ctl.pid)
            await drive(client, "Local/controller@ckm-bench", controller)
            controller.asterisk_cpu_s = cpu_seconds(ast_pid) - a0
            controller.controller_cpu_s = cpu_seconds(ctl.pid) - c0
        finally:
            ctl.send_signal(signal.SIGTERM)
            ctl.wait(timeout=30)
        for line in CENTER_LOG.read_text().splitlines():
            if line.startswith("CKM_STATS "):
                stats: dict[str, Any] = json.loads(line.removeprefix("CKM_STATS "))
                controller.stasis_to_answer_s = stats["answer_latency_s"][-calls:]
                controller.stasis_lag_s = stats.get("stasis_lag_s", [])[-calls:]
                controller.ari_events = stats.get("ari_events", {})
                controller.ari_requests = stats.get("ari_requests", {})
                controller.answer_trace = stats.get("answer_trace", [])
        runs.append(controller)
    finally:
        await client.stop()
    return runs


ANSWER_STEPS = ("originate → callee half in Stasis", "Stasis → StasisStart handled",
                "handled → answer acknowledged", "acknowledged → caller half answered")


def answer_path(run: Run) -> dict[str, list[float]]:
    """Where the controller's answer time goes, per call (ms; all wall clocks of one machine,
    Asterisk's at ms resolution): the benchmark's originate and the caller half's answer in
    Asterisk, beside the controller's trace of the callee half (its StasisStart stamp, its
    handling, Asterisk's acknowledgement of the answer). The last step is negative when the
    caller half was answered before the acknowledgement came back."""
    steps: dict[str, list[float]] = {name: [] for name in ANSWER_STEPS}
    for channel_id, stamped, handled, acknowledged in run.answer_trace:
        seen = run.originated.get(channel_id)
        if seen is None:
            continue  # a warm-up call
        originated, answered = seen
        for name, ms in zip(ANSWER_STEPS, (stamped - originated, handled - stamped,
                                           acknowledged - handled, answered - acknowledged),
                            strict=True):
            steps[name].append(1000 * ms)
    return steps


def report(runs: list[Run]) -> str:
    lines = [f"{'flow':<18} {'calls':>5} {'fail':>4} {'setup/s':>8} {'orig→ans p50':>13} "
             f"{'p99':>7} {'Stasis→ans p50':>15} {'p99':>7} {'CPU ms/call':>12} "
             f"{'(ast+ctl)':>16}"]
    for r in runs:
        ms = [1000 * x for x in r.answer_latency_s]
        sa = [1000 * x for x in r.stasis_to_answer_s]
        sa50 = f"{pct(sa, 0.5):.1f} ms" if sa else "—"
        sa99 = f"{pct(sa, 0.99):.1f}" if sa else "—"
        lines.append(
            f"{r.name:<18} {r.calls:>5} {r.failed:>4} {r.answered / r.wall_s:>8.1f} "
            f"{pct(ms, 0.5):>10.1f} ms {pct(ms, 0.99):>7.1f} {sa50:>15} {sa99:>7} "
            f"{r.cpu_per_call_ms:>12.2f} "
            f"{1000 * r.asterisk_cpu_s / max(1, r.answered):>7.2f}+"
            f"{1000 * r.controller_cpu_s / max(1, r.answered):.2f}")
    if len(runs) == 2 and runs[0].cpu_per_call_ms > 0 and runs[1].answer_latency_s:
        native, ctl = runs
        mean_n, mean_c = (statistics.mean(r.answer_latency_s) for r in runs)
        p99_n, p99_c = (pct(r.answer_latency_s, 0.99) for r in runs)
        lines += [
            f"answer latency mean: controller {1000 * mean_c:.1f} ms vs native "
            f"{1000 * mean_n:.1f} ms, ratio {mean_c / mean_n:.2f} (target ≤ {LATENCY_TARGET})",
            f"answer latency p99:  controller {1000 * p99_c:.1f} ms vs native "
            f"{1000 * p99_n:.1f} ms, ratio {p99_c / p99_n:.2f} (target ≤ {LATENCY_TARGET})",
            f"CPU ratio controller/native: {ctl.cpu_per_call_ms / native.cpu_per_call_ms:.2f} "
            f"(target ≤ {CPU_TARGET})"]
        for r in runs:
            if r.asterisk_answer_s:
                seen = [1000 * x for x in r.asterisk_answer_s]
                lines.append(f"{r.name}: answered in Asterisk's own time p50 {pct(seen, 0.5):.0f} "
                             f"ms, p99 {pct(seen, 0.99):.0f} ms after the originate (ms clock)")
        if ctl.stasis_lag_s:
            lag = [1000 * x for x in ctl.stasis_lag_s]
            lines.append(f"controller's part: StasisStart reaches it p50 {pct(lag, 0.5):.0f} ms, "
                         f"p99 {pct(lag, 0.99):.0f} ms after Asterisk sent it (ms clock)")
        for name, values in answer_path(ctl).items():
            if values:
                lines.append(f"answer path, {name}: p50 {pct(values, 0.5):.0f} ms, p99 "
                             f"{pct(values, 0.99):.0f} ms, mean {statistics.mean(values):.0f} ms")
        if ctl.ari_events:
            handled = ctl.calls + 20  # and the warm-up
            top = ", ".join(f"{k} {v / handled:.1f}" for k, v in
                            sorted(ctl.ari_events.items(), key=lambda kv: -kv[1])[:8])
            lines.append(f"ARI events to the controller per call: "
                         f"{sum(ctl.ari_events.values()) / handled:.1f} ({top})")
            # The connection pool's warm-up is made once, when the controller connects.
            per_call = {k: v for k, v in ctl.ari_requests.items() if k != "pool warm-up"}
            asked = ", ".join(f"{k} {v / handled:.1f}" for k, v in
                              sorted(per_call.items(), key=lambda kv: -kv[1])[:6])
            lines.append(f"ARI requests of the controller per call: "
                         f"{sum(per_call.values()) / handled:.1f} ({asked}; and "
                         f"{ctl.ari_requests.get('pool warm-up', 0)} at connect to open its "
                         f"connection pool)")
    return "\n".join(lines)


def main(settings: Settings, calls: int, concurrency: int, rate: float = 0.0) -> int:
    before = os.getloadavg()[0]
    runs = asyncio.run(bench(settings, calls, concurrency, rate))
    pace = f"{rate:g} started per second (at most {concurrency} at once)" if rate else \
        f"at concurrency {concurrency}"
    print(f"{calls} calls {pace}, Asterisk {settings.ari_base}, load average "
          f"{before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(report(runs))
    return 0 if all(r.failed == 0 for r in runs) else 1
