"""The ACD on the real Asterisk versus app_queue, same scenario, one run.

60 scripted agents (dialplan [ckm-bench-agents] 700-759: ring 1 s, answer, talk 4 s, hang up)
and callers arriving at a steady rate. `native`: the callers wait in app_queue (`Queue()`,
leastrecent, autofill). `controller`: they enter Stasis and wait in ckm's ACD, run by a child
`ckm bench acd-center` process (the whole controller: sessions, switchboard, pbx adapter).

Printed per flow: callers connected / lost, time from call to agent (p50/p99), CPU seconds per
call of Asterisk (+ the controller), and the ratios controller/native. A call "reaches an
agent" when its channel enters a bridge other than a holding one; double offers are counted
from the controller's own record (a call bridged to two agents).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.calls import cpu_seconds, pct, sandbox_asterisk
from ground.settings import Settings
from pbx import ari_events as ev
from pbx.ari_client import AriClient, AriError, AriUnavailable, new_id

AGENTS = 60
AGENT_EXTENSIONS = [f"Local/{700 + i}@ckm-bench-agents" for i in range(AGENTS)]


@dataclass
class Flow:
    name: str
    callers: int
    connected: int = 0
    lost: int = 0
    to_agent_s: list[float] = field(default_factory=list)
    asterisk_cpu_s: float = 0.0
    controller_cpu_s: float = 0.0
    double_bridged: int = 0
    wall_s: float = 0.0
    ari_requests: dict[str, int] = field(default_factory=dict)  # the controller's, by kind

    @property
    def cpu_ms(self) -> float:
        return 1000 * (self.asterisk_cpu_s + self.controller_cpu_s) / max(1, self.connected)


async def drive(client: AriClient, endpoint: str, flow: Flow, rate: float,
                route_app: str) -> None:
    bridged: dict[str, asyncio.Future[float]] = {}

    async def watch(event: ev.AriEvent) -> None:
        if isinstance(event, ev.ChannelEnteredBridge) and not event.bridge_id.startswith(
                "ckm-queue-"):
            fut = bridged.get(event.channel.id)
            if fut is not None and not fut.done():
                fut.set_result(time.monotonic())

    client.on_event(watch)

    async def one() -> None:
        caller, callee = new_id("acdb"), new_id("acdb-in")
        reached = asyncio.get_running_loop().create_future()
        bridged[callee] = reached
        ended = client.expect("StasisEnd", caller)
        t0 = time.monotonic()
        try:
            await client.originate(endpoint, channel_id=caller, other_channel_id=callee,
                                   app=client.app, timeout=30,
                                   caller_id='"Bench" <+48600000000>',
                                   variables={"_CKM_ROUTE_APP": route_app})
            at = await asyncio.wait_for(reached, 90)
            flow.to_agent_s.append(at - t0)
            flow.connected += 1
            await asyncio.wait_for(ended, 30)
        except (TimeoutError, AriError, AriUnavailable):
            # An overloaded Asterisk that stops answering ARI loses calls: counted, not fatal.
            flow.lost += 1
            await client.hangup(caller)

    start = time.monotonic()
    tasks = []
    for _ in range(flow.callers):
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)
    flow.wall_s = time.monotonic() - start


def start_center(settings: Settings) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ckm.cli", "bench", "acd-center"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def bench(settings: Settings, callers: int, rate: float) -> list[Flow]:
    ast = sandbox_asterisk(settings)
    client = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                       "ckm-acd-load", subscribe_all=True)
    await client.start()
    if not await client.wait_connected(5):
        raise RuntimeError(client.last_error)
    flows = []
    try:
        native = Flow("app_queue (native)", callers)
        a0 = cpu_seconds(ast)
        await drive(client, "Local/native-queue@ckm-bench", native, rate, settings.ari_app)
        native.asterisk_cpu_s = cpu_seconds(ast) - a0
        flows.append(native)
        await asyncio.sleep(6)  # the last agents finish talking

        child = start_center(settings)
        try:
            assert child.stdout is not None
            line = await asyncio.to_thread(child.stdout.readline)
            while line and not line.startswith("CKM_READY"):
                line = await asyncio.to_thread(child.stdout.readline)
            if not line:
                raise RuntimeError("the benchmark center did not start")
            ours = Flow("ckm ACD (controller)", callers)
            a0, c0 = cpu_seconds(ast), cpu_seconds(child.pid)
            await drive(client, "Local/controller-queue@ckm-bench", ours, rate,
                        settings.ari_app)
            ours.asterisk_cpu_s = cpu_seconds(ast) - a0
            ours.controller_cpu_s = cpu_seconds(child.pid) - c0
        finally:
            child.send_signal(signal.SIGTERM)
            out = (await asyncio.to_thread(child.communicate, None, 30))[0]
        for text in out.splitlines():
            if text.startswith("CKM_ACD "):
                stats = json.loads(text[8:])
                ours.double_bridged = int(stats["double_bridged"])
                ours.ari_requests = {str(k): int(v) for k, v in stats["ari_requests"].items()}
        flows.append(ours)
    finally:
        await client.stop()
    return flows


def report(flows: list[Flow], rate: float) -> str:
    lines = [f"{AGENTS} agents (ring 1 s, talk 4 s), callers arriving at {rate:g}/s",
             f"{'flow':<22} {'callers':>7} {'reached':>7} {'lost':>4} {'double':>6} "
             f"{'to agent p50':>12} {'p99':>7} {'CPU ms/call':>11} {'(ast+ctl)':>14}"]
    for f in flows:
        ms = [1000 * x for x in f.to_agent_s]
        lines.append(
            f"{f.name:<22} {f.callers:>7} {f.connected:>7} {f.lost:>4} {f.double_bridged:>6} "
            f"{pct(ms, 0.5):>9.0f} ms {pct(ms, 0.99):>7.0f} {f.cpu_ms:>11.2f} "
            f"{1000 * f.asterisk_cpu_s / max(1, f.connected):>7.2f}+"
            f"{1000 * f.controller_cpu_s / max(1, f.connected):.2f}")
    if len(flows) == 2 and flows[0].cpu_ms > 0 and flows[0].to_agent_s:
        native, ours = flows
        lines.append(f"CPU per call ratio controller/native: {ours.cpu_ms / native.cpu_ms:.2f} "
                     "(target ≤ 1.5)")
        lines.append("time-to-agent p50 ratio controller/native: "
                     f"{pct(ours.to_agent_s, 0.5) / pct(native.to_agent_s, 0.5):.2f}")
    for f in flows:
        if f.ari_requests and f.connected:
            per_call = sum(f.ari_requests.values()) / f.connected
            top = ", ".join(f"{k} {v / f.connected:.1f}" for k, v in
                            sorted(f.ari_requests.items(), key=lambda kv: -kv[1])[:8])
            lines.append(f"{f.name}: {per_call:.1f} ARI requests per call ({top})")
    return "\n".join(lines)


def main(settings: Settings, callers: int, rate: float) -> int:
    flows = asyncio.run(bench(settings, callers, rate))
    print(report(flows, rate))
    return 0 if all(f.lost == 0 and f.double_bridged == 0 for f in flows) else 1


# --- the child: a whole controller with the benchmark queue and its 60 agents ----------------
async def serve_center(settings: Settings) -> None:
    from bench import flows
    from ckm.assembly import assemble
    from cti import events as ce
    from cti.config import AgentProfile, Membership, QueueConfig
    from ground import events as domain
    from ground.bus import EventBus
    from pbx.controller import Controller

    # A scratch data folder: the bench's 60 agents and its queue state must never land in the
    # real center's ACD snapshot (var/acd-state.json), nor a crashed run's in the next run.
    scratch = Path(tempfile.mkdtemp(prefix="ckm-bench-acd-"))
    settings = replace(settings, data_dir=scratch, ivr_models_dir=settings.models_dir)
    bus = EventBus()
    connected: dict[str, int] = {}

    async def count(event: Any) -> None:
        if isinstance(event, domain.AgentConnected):
            connected[event.call_id] = connected.get(event.call_id, 0) + 1

    bus.subscribe("bench", count)
    center = await assemble(settings, bus, crm=False, speech=False,
                            extra_scripts=flows.SCRIPT_DIRS)
    board = center.switchboard
    assert board is not None and center.ari is not None and center.library is not None
    assert center.prompts is not None
    board.feed(ce.QueueConfigured(board.now(), QueueConfig(name="bench", wrapup_s=0.0)))
    for i, endpoint in enumerate(AGENT_EXTENSIONS):
        profile = AgentProfile(f"agent{i:02d}", memberships=(Membership("bench", 0, i),))
        board.feed(ce.AgentLoggedIn(at=board.now(), profile=profile, endpoint=endpoint))
    controller = Controller(settings, bus, ari=center.ari, library=center.library,
                            prompts=center.prompts, router=center.router)
    await controller.start()
    await controller.ari.wait_connected(10)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("CKM_READY", flush=True)
    await stop.wait()
    await bus.drain()
    print("CKM_ACD " + json.dumps({"double_bridged": sum(1 for n in connected.values() if n > 1),
                                   "bridged": len(connected),
                                   "ari_requests": dict(controller.ari.requests.most_common())}),
          flush=True)
    center.controller = controller
    await center.close()
    shutil.rmtree(scratch, ignore_errors=True)
