"""ACD and CTI hub benchmark: `python -m bench.acd_bench`.

1. Routing: 60 agents, 8 queues, 500 callers waiting. Each cycle an agent finishes a call, the
   ACD picks the next caller for them (a routing decision over the 500), the agent answers and a
   new caller arrives, so 500 keep waiting. Prints decisions and events per second.
2. Fan-out: a real aiohttp server with the CTI hub and 60 real websocket clients (supervisors,
   so each receives every frame). Prints publish → receive latency p50/p99 over all deliveries.
3. Screen-pop: 60 consultants logged in over websockets; calls arrive; prints the latency from
   the moment the ACD emits RingAgent to the moment the ringing agent's socket has the pop.

Everything runs in one process on loopback; no Asterisk. The pbx side is a sink.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from cti import commands as cmd
from cti import events as ev
from cti.acd import Acd
from cti.config import AgentProfile, Caller, Membership, QueueConfig, SkillRequirement, Strategy
from cti.hub import CtiHub
from cti.ports import AgentSeat, Principal, Role
from cti.switchboard import Switchboard

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
STRATEGIES = list(Strategy)


def queues(n: int = 8) -> list[QueueConfig]:
    return [QueueConfig(f"q{i}", strategy=STRATEGIES[i % len(STRATEGIES)], wrapup_s=0,
                        announce_every_s=30, ring_timeout_s=15) for i in range(n)]


def profile(i: int, nq: int = 8) -> AgentProfile:
    members = tuple(Membership(f"q{(i + k) % nq}", penalty=k, position=i) for k in range(3))
    return AgentProfile(f"a{i:02d}", f"Agent {i}", {"english": i % 4, "ukrainian": i % 3},
                        members)


def routing(agents: int, waiting: int, cycles: int) -> dict[str, float]:
    qs = queues()
    acd = Acd(qs, seed=1)
    t = T0
    events = 0
    for i in range(agents):
        acd.handle(ev.AgentLoggedIn(t, profile(i), f"PJSIP/a{i:02d}"))
    # Give every agent a call first, then fill the queues with 500 waiting callers.
    n = 0
    for i in range(agents):
        acd.handle(ev.CallEnqueued(t, f"c{n}", f"q{i % 8}", Caller("+48220000000")))
        n += 1
    for a in list(acd.agents.values()):
        acd.handle(ev.AgentAnswered(t, a.call_id or "", a.agent_id))
    for _ in range(waiting):
        skills = (SkillRequirement("english", 2),) if n % 7 == 0 else ()
        acd.handle(ev.CallEnqueued(t, f"c{n}", f"q{n % 8}", Caller("+48220000000"),
                                   priority=n % 3, skills=skills))
        n += 1
    decisions = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    for k in range(cycles):
        t += timedelta(seconds=1)
        agent = acd.agents[f"a{k % agents:02d}"]
        assert agent.call_id is not None
        step = acd.handle(ev.CallerHungUp(t, agent.call_id))
        events += 1
        rings = [c for c in step.commands if isinstance(c, cmd.RingAgent)]
        decisions += len(rings)
        for r in rings:
            acd.handle(ev.AgentAnswered(t, r.call_id, r.agent))
            events += 1
        acd.handle(ev.CallEnqueued(t, f"c{n}", f"q{n % 8}", Caller("+48220000000"),
                                   priority=n % 3))
        n += 1
        events += 1
        if k % 50 == 0:
            acd.handle(ev.Tick(t))  # announcements and timers over all 500 waiting
            events += 1
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    waiting_now = len(acd.entries)
    return {"decisions": decisions, "events": events, "seconds": elapsed, "cpu_s": cpu,
            "decisions_per_cpu_s": decisions / cpu,
            "decisions_per_s": decisions / elapsed, "events_per_s": events / elapsed,
            "us_per_event": 1e6 * elapsed / events, "waiting_at_end": waiting_now}


class Sink:
    def __init__(self) -> None:
        self.ring_at: dict[str, float] = {}

    def execute(self, command: cmd.Command) -> None:
        if isinstance(command, cmd.RingAgent):
            self.ring_at[command.call_id] = time.perf_counter()


class Tokens:
    async def authenticate(self, credential: str) -> Principal | None:
        role = Role.SUPERVISOR if credential.startswith("boss") else Role.CONSULTANT
        return Principal(credential, role)


class Directory:
    async def queues(self) -> Sequence[QueueConfig]:
        return queues()

    async def seat(self, user: str) -> AgentSeat | None:
        return AgentSeat(profile(int(user[1:])), f"PJSIP/{user}")

    async def pause_reasons(self) -> frozenset[str]:
        return frozenset()


class NoHistory:
    async def caller_history(self, number: str) -> Mapping[str, Any]:
        return {"resident": None, "open_cases": []}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def hub_rig(clients: int, prefix: str) -> tuple[Switchboard, Sink, TestServer,
                                                      aiohttp.ClientSession,
                                                      list[aiohttp.ClientWebSocketResponse]]:
    sink = Sink()
    board = Switchboard(Acd(queues()), sink, directory=Directory(), history=NoHistory(),
                        figures_every_s=0)
    hub = CtiHub(Tokens(), board)
    board.attach(hub)
    app = web.Application()
    hub.mount(app)
    server = TestServer(app)
    await server.start_server()
    session = aiohttp.ClientSession()
    sockets = []
    for i in range(clients):
        ws = await session.ws_connect(server.make_url("/cti/ws"),
                                      headers={"Authorization": f"Bearer {prefix}{i:02d}"})
        await ws.receive_json()  # snapshot
        sockets.append(ws)
    return board, sink, server, session, sockets


async def fanout(clients: int, messages: int) -> dict[str, float]:
    board, _, server, session, sockets = await hub_rig(clients, "boss")
    assert board.hub is not None
    latencies: list[float] = []

    async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
        for _ in range(messages):
            frame = await ws.receive_json()
            latencies.append(time.perf_counter() - frame["data"]["sent"])

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    for _ in range(messages):
        board.hub.publish("bench", {"sent": time.perf_counter()})
        await asyncio.sleep(0.005)  # ~200 events/s, far above a 60-seat centre's peak
    await asyncio.gather(*readers)
    for ws in sockets:
        await ws.close()
    await session.close()
    await server.close()
    ms = [1000 * x for x in latencies]
    return {"deliveries": len(ms), "p50_ms": statistics.median(ms), "p99_ms": pct(ms, 99),
            "max_ms": max(ms)}


async def screen_pops(agents: int, calls: int) -> dict[str, float]:
    board, sink, server, session, sockets = await hub_rig(agents, "a")
    latencies: list[float] = []
    done = asyncio.Event()

    async def desk(ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.send_json({"type": "login", "id": "login"})
        async for msg in ws:
            frame = msg.json()
            if frame.get("event") != "call_offered":
                continue
            call_id = frame["data"]["call_id"]
            latencies.append(time.perf_counter() - sink.ring_at[call_id])
            agent = frame["data"]["agent"]
            board.feed(ev.AgentAnswered(datetime.now(UTC), call_id, agent))
            board.feed(ev.HangupRequested(datetime.now(UTC), call_id, agent))
            if len(latencies) >= calls:
                done.set()

    desks = [asyncio.create_task(desk(ws)) for ws in sockets]
    while len(board.acd.agents) < agents:
        await asyncio.sleep(0.01)
    for n in range(calls):
        board.feed(ev.CallEnqueued(datetime.now(UTC), f"p{n}", f"q{n % 8}",
                                   Caller("+48221234567", "Jan Kowalski")))
        await asyncio.sleep(0.01)  # 100 calls/s arriving
    await asyncio.wait_for(done.wait(), 30)
    for task in desks:
        task.cancel()
    for ws in sockets:
        await ws.close()
    await session.close()
    await server.close()
    await board.stop()
    ms = [1000 * x for x in latencies]
    return {"pops": len(ms), "p50_ms": statistics.median(ms), "p99_ms": pct(ms, 99),
            "max_ms": max(ms)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.acd_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--pops", type=int, default=600)
    args = parser.parse_args(argv)
    r = routing(args.agents, args.waiting, args.cycles)
    print(f"routing  {args.agents} agents / 8 queues / {args.waiting} waiting: "
          f"{r['decisions_per_s']:,.0f} decisions/s, {r['events_per_s']:,.0f} events/s, "
          f"{r['us_per_event']:.1f} µs/event ({r['decisions']:.0f} decisions in "
          f"{r['seconds']:.2f} s wall, {r['cpu_s']:.2f} s CPU = "
          f"{r['decisions_per_cpu_s']:,.0f} decisions per CPU-second; "
          f"{r['waiting_at_end']:.0f} still waiting)")
    f = asyncio.run(fanout(args.agents, args.messages))
    print(f"fan-out  {args.agents} websocket clients x {args.messages} events: "
          f"p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms, max {f['max_ms']:.2f} ms "
          f"({f['deliveries']:.0f} deliveries)")
    p = asyncio.run(screen_pops(args.agents, args.pops))
    print(f"pop      RingAgent -> consultant socket, {args.agents} desks, {p['pops']:.0f} calls: "
          f"p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms, max {p['max_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
