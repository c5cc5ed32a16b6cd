"""The ACD on the real Asterisk versus app_queue, same scenario, one run.

60 scripted agents (dialplan [ckm-bench-agents] 700-759: ring 1 s, answer, talk 4 s, hang up)
and callers arriving at a steady rate. `native`: the callers wait in app_queue (`Queue()`,
leastrecent, autofill). `controller`: they enter Stasis and wait in ckm's ACD, run by a child
`ckm bench acd-center` process (the whole controller: sessions, switchboard, pbx adapter).

Printed per flow: callers reached (an agent) / told busy / lost, time from call to agent
(p50/p99), CPU seconds per call of Asterisk (+ the controller), the slowest answer to an ARI
ping during the run, and the ratios controller/native against their targets. A call
"reaches an agent" when it is in one bridge with an agent (Asterisk sets its BRIDGEPEER);
double offers are counted from the controller's own record (a call bridged to two agents).

`ckm bench surge` runs the same at twice what this machine serves (400 callers at 16/s). Both
sides have the same room: app_queue's queue takes at most 60 waiting callers (`maxlen`, the
dialplan then plays "all circuits are busy"), ckm's controller at most 120 calls in progress
(`max_calls`: 60 talking + 60 waiting; then new callers hear the busy script, which offers a
callback). A caller neither served nor told busy is lost.

What a caller cost, measured with this benchmark (2 cores shared with other work, Dec 2026):
- before: callers waited in one holding bridge per queue with the bridge's music on hold — one
  announcer channel (`Announcer/ARI_MOH`) writing to every waiting caller. At 200 callers at
  8/s its frame queue overflowed ("Exceptionally long voice queue length"), Asterisk stopped
  answering ARI and ~300 channels stayed stuck (3 runs of 3); the benchmark's own client also
  asked for every event of every channel (`subscribeAll`), which the native run paid too;
- music on the caller's own channel (what app_queue does), no bridge while waiting, one bridge
  per call made when the agent answers (create, stop music, add both legs: concurrent
  requests), no speech tap while queued, the benchmark subscribed to each caller's channel
  only: still wedged (ckm side: 52 of 200 reached, ARI ping 6 s). The trigger was the end of
  the first calls: the ACD hung the caller up with DELETE /channels right after the agent's
  leg left their bridge; that request got no answer for 10 s, the agents' Local halves stayed
  in Hangup() and every request after it timed out. Ending the caller as app_queue does —
  back to the dialplan (`continue`), whose `Hangup()` runs on the channel's own thread — and
  asking Asterisk only for the event types call control reads: 192 of 200 reached, ARI ping
  at most 344 ms, 10 requests and 6.6 events per call instead of 20-22 (load 18-23).
  The figures of the last runs side by side: README, Benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
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
# 60 talking + 60 waiting: the same room app_queue's surge queue has (queues.conf maxlen 60).
MAX_CALLS = 120
OUTCOME_VAR = "CKM_BENCH_OUTCOME"  # set to `busy` by the native surge dialplan
CENTER_LOG = Path(tempfile.gettempdir()) / "ckm-bench-acd-center.log"


@dataclass
class Flow:
    name: str
    callers: int
    connected: int = 0
    busy: int = 0  # told "all lines are busy" (ckm: the busy script, with a callback offered)
    lost: int = 0
    to_agent_s: list[float] = field(default_factory=list)
    asterisk_cpu_s: float = 0.0
    controller_cpu_s: float = 0.0
    double_bridged: int = 0
    wall_s: float = 0.0
    ari_requests: dict[str, int] = field(default_factory=dict)  # the controller's, by kind
    ping_max_s: float = 0.0  # slowest ARI ping answer during the run
    slowest: dict[str, float] = field(default_factory=dict)  # request kind -> seconds
    ari_events: dict[str, int] = field(default_factory=dict)  # the controller's, by type
    unserved: list[str] = field(default_factory=list)  # callee channels that never reached one
    marked_busy: set[str] = field(default_factory=set)

    @property
    def cpu_ms(self) -> float:
        handled = self.connected + self.busy
        return 1000 * (self.asterisk_cpu_s + self.controller_cpu_s) / max(1, handled)

    def settle(self, busy_ids: set[str]) -> None:
        """Unserved callers were either told busy (in `busy_ids`) or lost."""
        told = [c for c in self.unserved if c in busy_ids or c in self.marked_busy]
        self.busy += len(told)
        self.lost += len(self.unserved) - len(told)


async def ping_watch(client: AriClient, flow: Flow, stop: asyncio.Event) -> None:
    while not stop.is_set():
        began = time.monotonic()
        with contextlib.suppress(AriError, AriUnavailable):
            await client.ping(timeout=5)
        flow.ping_max_s = max(flow.ping_max_s, time.monotonic() - began)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def drive(client: AriClient, endpoint: str, flow: Flow, rate: float,
                route_app: str) -> None:
    bridged: dict[str, asyncio.Future[float]] = {}

    async def watch(event: ev.AriEvent) -> None:
        if not isinstance(event, ev.ChannelVarset) or event.channel is None:
            return
        if event.variable == "BRIDGEPEER" and event.value:
            # Asterisk names the other party once both are in one bridge, whoever made it
            # (app_queue or ckm); bridge events would need every bridge subscribed.
            fut = bridged.get(event.channel.id)
            if fut is not None and not fut.done():
                fut.set_result(time.monotonic())
        elif event.variable == OUTCOME_VAR and event.value == "busy":
            flow.marked_busy.add(event.channel.id)

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
            # Only this caller's events, not every channel's (subscribeAll would make Asterisk
            # serialise each agent leg's events for us too, in both flows).
            with contextlib.suppress(AriError):
                await client.request("POST", f"/applications/{client.app}/subscription",
                                     {"eventSource": f"channel:{callee}"})
            done, _ = await asyncio.wait({reached, ended}, timeout=150,
                                         return_when=asyncio.FIRST_COMPLETED)
            if reached in done:
                flow.to_agent_s.append(reached.result() - t0)
                flow.connected += 1
                await asyncio.wait_for(ended, 60)
            elif ended in done:
                flow.unserved.append(callee)
            else:
                raise TimeoutError
        except (TimeoutError, AriError, AriUnavailable):
            # An overloaded Asterisk that stops answering ARI loses calls: counted, not fatal.
            flow.lost += 1
            with contextlib.suppress(AriError, AriUnavailable):
                await client.hangup(caller)
        finally:
            bridged.pop(callee, None)

    stop = asyncio.Event()
    pinger = asyncio.create_task(ping_watch(client, flow, stop))
    start = time.monotonic()
    tasks = []
    for _ in range(flow.callers):
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)
    flow.wall_s = time.monotonic() - start
    stop.set()
    await pinger
    await hang_up_leftovers(client)


async def hang_up_leftovers(client: AriClient) -> int:
    """Hang up this benchmark's channels still in Asterisk (a wedged run leaves callers in
    Stasis, which the next controller of the app would adopt as residents)."""
    try:
        channels = await client.channels()
    except (AriError, AriUnavailable):
        return 0
    left = [str(ch["id"]) for ch in channels if str(ch.get("id", "")).startswith("acdb-")]
    for channel_id in left:
        with contextlib.suppress(AriError, AriUnavailable):
            await client.hangup(channel_id)
    return len(left)


def start_center(settings: Settings) -> subprocess.Popen[str]:
    # Its output goes to a file: a pipe nobody reads while the calls run fills up and blocks
    # the child's event loop on a log line (which once looked like a slow controller).
    out = CENTER_LOG.open("w")
    try:
        return subprocess.Popen([sys.executable, "-m", "ckm.cli", "bench", "acd-center"],
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    finally:
        out.close()


async def wait_ready(child: subprocess.Popen[str]) -> None:
    for _ in range(1200):
        if "CKM_READY" in CENTER_LOG.read_text(errors="replace"):
            return
        if child.poll() is not None:
            break
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the benchmark center did not start; see {CENTER_LOG}")


async def bench(settings: Settings, callers: int, rate: float, *,
                surge: bool = False, sides: str = "both") -> list[Flow]:
    ast = sandbox_asterisk(settings)
    client = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                       "ckm-acd-load")
    await client.start()
    if not await client.wait_connected(5):
        raise RuntimeError(client.last_error)
    flows = []
    try:
        if sides in ("both", "native"):
            native = Flow("app_queue (native)", callers)
            a0 = cpu_seconds(ast)
            await drive(client,
                        f"Local/{'native-surge' if surge else 'native-queue'}@ckm-bench",
                        native, rate, settings.ari_app)
            native.asterisk_cpu_s = cpu_seconds(ast) - a0
            native.settle(set())
            flows.append(native)
            if sides == "native":
                return flows
            await asyncio.sleep(6)  # the last agents finish talking

        child = start_center(settings)
        stats: dict[str, Any] = {}
        try:
            await wait_ready(child)
            ours = Flow("ckm ACD (controller)", callers)
            a0, c0 = cpu_seconds(ast), cpu_seconds(child.pid)
            await drive(client, "Local/controller-queue@ckm-bench", ours, rate,
                        settings.ari_app)
            ours.asterisk_cpu_s = cpu_seconds(ast) - a0
            ours.controller_cpu_s = cpu_seconds(child.pid) - c0
        finally:
            child.send_signal(signal.SIGTERM)
            await asyncio.to_thread(child.wait, 30)
        for text in CENTER_LOG.read_text(errors="replace").splitlines():
            if text.startswith("CKM_ACD "):
                stats = json.loads(text[8:])
        ours.double_bridged = int(stats.get("double_bridged", 0))
        ours.ari_requests = {str(k): int(v) for k, v in stats.get("ari_requests", {}).items()}
        ours.settle(set(stats.get("shed", [])))
        ours.slowest = {str(k): float(v) for k, v in stats.get("slowest_requests", {}).items()}
        ours.ari_events = {str(k): int(v) for k, v in stats.get("ari_events", {}).items()}
        flows.append(ours)
    finally:
        await client.stop()
    return flows


def ratio(ours: float, native: float) -> str:
    return f"{ours / native:.2f}" if native > 0 else "n/a"


def report(flows: list[Flow], rate: float) -> str:
    lines = [f"{AGENTS} agents (ring 1 s, talk 4 s), callers arriving at {rate:g}/s",
             f"{'flow':<22} {'callers':>7} {'reached':>7} {'busy':>5} {'lost':>4} "
             f"{'double':>6} {'to agent p50':>12} {'p99':>7} {'CPU ms/call':>11} "
             f"{'(ast+ctl)':>14} {'ARI ping max':>12}"]
    for f in flows:
        ms = [1000 * x for x in f.to_agent_s]
        handled = max(1, f.connected + f.busy)
        lines.append(
            f"{f.name:<22} {f.callers:>7} {f.connected:>7} {f.busy:>5} {f.lost:>4} "
            f"{f.double_bridged:>6} {pct(ms, 0.5):>9.0f} ms {pct(ms, 0.99):>7.0f} "
            f"{f.cpu_ms:>11.2f} {1000 * f.asterisk_cpu_s / handled:>7.2f}+"
            f"{1000 * f.controller_cpu_s / handled:.2f} {1000 * f.ping_max_s:>9.0f} ms")
    if len(flows) == 2 and flows[0].to_agent_s and flows[1].to_agent_s:
        native, ours = flows
        lines += [
            f"reached ratio controller/native: {ratio(ours.connected, native.connected)} "
            "(target ≥ 1.00)",
            "time-to-agent p99 ratio controller/native: "
            f"{ratio(pct(ours.to_agent_s, 0.99), pct(native.to_agent_s, 0.99))} "
            f"(target ≤ 1.00; p50 {ratio(pct(ours.to_agent_s, 0.5), pct(native.to_agent_s, 0.5))})",
            f"CPU per call ratio controller/native: {ratio(ours.cpu_ms, native.cpu_ms)} "
            "(target ≤ 1.00)",
            f"controller: lost {ours.lost}, double offers {ours.double_bridged} (target 0, 0); "
            f"slowest ARI ping {1000 * ours.ping_max_s:.0f} ms (target < 1000 ms)"]
    for f in flows:
        handled = f.connected + f.busy
        if f.ari_requests and handled:
            per_call = sum(f.ari_requests.values()) / handled
            top = ", ".join(f"{k} {v / handled:.1f}" for k, v in
                            sorted(f.ari_requests.items(), key=lambda kv: -kv[1])[:8])
            lines.append(f"{f.name}: {per_call:.1f} ARI requests per call ({top})")
        if f.ari_events and handled:
            lines.append(f"{f.name}: {sum(f.ari_events.values()) / handled:.1f} ARI events "
                         "per call")
        if f.slowest:
            worst = ", ".join(f"{k} {1000 * v:.0f}" for k, v in
                              sorted(f.slowest.items(), key=lambda kv: -kv[1])[:5])
            lines.append(f"{f.name}: slowest ARI requests, ms: {worst}")
    return "\n".join(lines)


def main(settings: Settings, callers: int, rate: float, *, surge: bool = False,
         sides: str = "both") -> int:
    flows = asyncio.run(bench(settings, callers, rate, surge=surge, sides=sides))
    print(report(flows, rate))
    ours = flows[-1]
    return 0 if ours.lost == 0 and ours.double_bridged == 0 else 1


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
    settings = replace(settings, data_dir=scratch, ivr_models_dir=settings.models_dir,
                       max_calls=MAX_CALLS)
    bus = EventBus()
    connected: dict[str, int] = {}
    shed: set[str] = set()
    slowest: dict[str, float] = {}

    async def count(event: Any) -> None:
        if isinstance(event, domain.AgentConnected):
            connected[event.call_id] = connected.get(event.call_id, 0) + 1
        elif isinstance(event, domain.IvrStep) and event.script == "overload":
            shed.add(event.call_id)

    bus.subscribe("bench", count)
    center = await assemble(settings, bus, crm=False, speech=False,
                            extra_scripts=flows.SCRIPT_DIRS)
    board = center.switchboard
    assert board is not None and center.ari is not None and center.library is not None
    metered = center.ari.on_request

    def timed(kind: str, seconds: float) -> None:
        slowest[kind] = max(seconds, slowest.get(kind, 0.0))
        if metered is not None:
            metered(kind, seconds)

    center.ari.on_request = timed
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
                                   "bridged": len(connected), "shed": sorted(shed),
                                   "slowest_requests": slowest,
                                   "ari_events": dict(controller.ari.events),
                                   "ari_requests": dict(controller.ari.requests.most_common())}),
          flush=True)
    center.controller = controller
    await center.close()
    shutil.rmtree(scratch, ignore_errors=True)
