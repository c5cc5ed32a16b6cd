"""Desktop figures in real headless Chromium: first paint, screen-pop latency, page weight, and
the wallboard under load.

    .venv/bin/python -m bench.desktop_bench [--pops 100] [--agents 200] [--queues 20]
                                            [--seconds 20] [--rate 20]

What it does: starts agent_desktop in-process with the real switchboard and CTI hub over a
seeded SQLite CRM (no Asterisk: the pbx side is a sink that records the commands), and
Chromium through Playwright (Debian's binary).
- First paint: first-contentful-paint of /desk, over 10 loads.
- Screen-pop: a ready consultant; `--pops` callers enqueued one after another. Latency is from
  the moment the call is fed to the switchboard (the CTI event is published in the same
  synchronous step) to the moment a MutationObserver in the page sees the caller's name in
  the pop. Both clocks are this machine's wall clock.
- Page weight: bytes the browser fetched for /desk (HTML, CSS, JS modules), and with the
  softphone (SIP.js modules) loaded on demand.
- Wallboard: `--agents` agents in `--queues` queues, callers arriving at `--rate` per second,
  answered, held for a while, hung up or abandoned; websocket frames per second reaching one
  wallboard, and the delay from a caller joining a marker queue to its tile showing it (the
  waiting count moves on the call_queued event; the "figures" pushed every second reconcile).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Page, WebSocket, async_playwright

from cti import commands as cmd
from cti import events as ev
from cti.config import AgentProfile, Caller, Membership, QueueConfig
from ground.settings import load
from tests.desktop.live import CHROMIUM, CHROMIUM_FLAGS, LiveDesk, login, seeded_crm, start_desk


class Sink:
    def __init__(self) -> None:
        self.rings: dict[str, cmd.RingAgent] = {}

    def execute(self, command: cmd.Command) -> None:
        if isinstance(command, cmd.RingAgent):
            self.rings[command.call_id] = command


def now() -> datetime:
    return datetime.now(UTC)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


WATCH_POP = """() => {
    window.__pops = [];
    new MutationObserver(() => {
        const name = document.getElementById('pop-name').textContent;
        if (name.startsWith('Bench ')) window.__pops.push([name, performance.timeOrigin + performance.now()]);
    }).observe(document.getElementById('pop-name'), {childList: true, characterData: true, subtree: true});
}"""


async def first_paint(page: Page, url: str, loads: int = 10) -> list[float]:
    out = []
    for _ in range(loads):
        await page.goto(f"{url}/desk")
        await page.wait_for_selector("#cti-state.ok")
        fcp = await page.evaluate(
            "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1")
        out.append(float(fcp))
    return out


async def page_weight(page: Page) -> tuple[int, int]:
    entries = await page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return [nav.decodedBodySize, res.map(r => [r.name, r.decodedBodySize])];
    }""")
    html, resources = entries
    base = html + sum(size for name, size in resources if "/vendor/" not in name)
    return base, base + sum(size for name, size in resources if "/vendor/" in name)


async def screen_pops(live: LiveDesk, page: Page, count: int) -> list[float]:
    sink = Sink()
    live.board.attach_pbx(sink)
    await page.goto(f"{live.url}/desk")
    await page.wait_for_selector("#cti-state.ok")
    await page.click("#btn-agent-login")
    await page.wait_for_selector("#agent-state.state-available, #agent-state.state-paused")
    if "paused" in (await page.get_attribute("#agent-state", "class") or ""):
        await page.click("#btn-ready")
        await page.wait_for_selector("#agent-state.state-available")
    await page.evaluate(WATCH_POP)
    delays = []
    for i in range(count):
        name = f"Bench {i}"
        call_id = f"bench-pop-{i}"
        published = time.time() * 1000
        live.board.feed(ev.CallEnqueued(now(), call_id, "transport", Caller(f"+4860010{i:04d}", name)))
        await page.wait_for_selector(f"#pop-name:text-is('{name}')")
        seen = await page.evaluate("() => window.__pops")
        delays.append(next(at for n, at in seen if n == name) - published)
        live.board.feed(ev.CallerHungUp(now(), call_id))
        await page.wait_for_selector("#call-phase:text-is('Brak połączenia')")
        await page.wait_for_selector("#agent-state.state-available")
    return delays


async def wallboard(live: LiveDesk, page: Page, agents: int, queues: int, seconds: float,
                    rate: float) -> dict[str, Any]:
    sink = Sink()
    live.board.attach_pbx(sink)
    names = [f"bq{q:02d}" for q in range(queues)]
    for name in names:
        live.board.feed(ev.QueueConfigured(now(), QueueConfig(name=name, wrapup_s=2.0)))
    for a in range(agents):
        mine = tuple(Membership(names[(a + k) % queues]) for k in range(3))
        live.board.feed(ev.AgentLoggedIn(now(), AgentProfile(f"ba{a:03d}", f"Agent {a}",
                                                              memberships=mine),
                                         f"Local/ba{a:03d}@bench"))
    await login(page, live.url, "kierownik")
    await page.wait_for_selector("#cti-state.ok")
    await page.wait_for_selector("#agents tr[data-agent='ba199']" if agents >= 200 else "#agents tr")
    frames: list[float] = []

    def on_socket(socket: WebSocket) -> None:
        socket.on("framereceived", lambda _payload: frames.append(time.monotonic()))

    page.on("websocket", on_socket)
    await page.reload()
    await page.wait_for_selector("#cti-state.ok")
    await page.evaluate("""() => {
        window.__tile = [];
        const node = document.querySelector(".tile[data-queue='bq00'] .v-waiting");
        new MutationObserver(() => window.__tile.push(
            [node.textContent, performance.timeOrigin + performance.now()]))
          .observe(node, {childList: true, characterData: true, subtree: true});
    }""")
    rng = random.Random(7)
    started = time.monotonic()
    n = 0
    marker_delays: list[float] = []
    live_calls: list[tuple[float, str]] = []
    while time.monotonic() - started < seconds:
        n += 1
        call_id = f"bw-{n}"
        live.board.feed(ev.CallEnqueued(now(), call_id, names[rng.randrange(1, queues)],
                                        Caller(f"+48700{n:06d}", f"Caller {n}")))
        ring = sink.rings.pop(call_id, None)
        if ring is not None and rng.random() < 0.8:
            live.board.feed(ev.AgentAnswered(now(), call_id, ring.agent, ring.offer))
        live_calls.append((time.monotonic() + rng.uniform(2, 8), call_id))
        for due, cid in [c for c in live_calls if c[0] <= time.monotonic()]:
            live_calls.remove((due, cid))
            live.board.feed(ev.CallerHungUp(now(), cid))
        if n % max(1, int(rate)) == 0:  # once a second: a caller in the marker queue
            mark = f"bw-mark-{n}"
            before = len(await page.evaluate("() => window.__tile"))
            published = time.time() * 1000
            live.board.feed(ev.CallEnqueued(now(), mark, "bq00", Caller("+48700999999", "Mark")))
            for _ in range(400):
                seen = await page.evaluate("() => window.__tile")
                if len(seen) > before:
                    marker_delays.append(seen[-1][1] - published)
                    break
                await asyncio.sleep(0.005)
            live.board.feed(ev.CallerHungUp(now(), mark))
        await asyncio.sleep(1 / rate)
    elapsed = time.monotonic() - started
    in_window = [f for f in frames if started <= f <= started + elapsed]
    return {"frames_per_s": len(in_window) / elapsed, "callers": n, "tile_delay_ms": marker_delays}


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="desktop-bench-"))
    # The production cadence of the hub's "figures" (ckm run: every second).
    live, runner = await start_desk(load(), tmp, seeded_crm(tmp), figures_every_s=1.0)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = await browser.new_page()
            await login(page, live.url, "konsultant1")
            paints = await first_paint(page, live.url)
            fresh = await (await browser.new_context()).new_page()  # nothing cached
            await login(fresh, live.url, "konsultant1")
            await fresh.wait_for_selector("#cti-state.ok")
            base, _ = await page_weight(fresh)
            # Loads SIP.js on demand; registration then fails here (no Asterisk), which is fine.
            await fresh.click("#btn-phone")
            await fresh.wait_for_selector("#notice.error, #sip-state:not(:text-is('—'))")
            _, with_phone = await page_weight(fresh)
            pops = await screen_pops(live, page, args.pops)
            board_page = await browser.new_page()
            board = await wallboard(live, board_page, args.agents, args.queues, args.seconds, args.rate)
            await browser.close()
    finally:
        await runner.cleanup()
        await live.board.stop()
        await live.hub.close()
        live.db.dispose()
    print(f"desk first-contentful-paint: p50 {statistics.median(paints):.0f} ms, "
          f"max {max(paints):.0f} ms ({len(paints)} loads)")
    print(f"desk page weight: {base / 1024:.1f} KB (HTML+CSS+JS), "
          f"{with_phone / 1024:.1f} KB with the softphone's SIP.js modules")
    print(f"screen-pop (event published -> caller name rendered), {len(pops)} pops: "
          f"p50 {statistics.median(pops):.1f} ms, p99 {pct(pops, 99):.1f} ms, max {max(pops):.1f} ms")
    delays = board["tile_delay_ms"]
    print(f"wallboard, {args.agents} agents / {args.queues} queues, {board['callers']} callers in "
          f"{args.seconds:.0f} s ({board['callers'] / args.seconds:.1f}/s): "
          f"{board['frames_per_s']:.1f} websocket frames/s; event -> tile "
          + (f"p50 {statistics.median(delays):.0f} ms, p99 {pct(delays, 99):.0f} ms "
             f"({len(delays)} samples)" if delays else "no samples"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.desktop_bench")
    parser.add_argument("--pops", type=int, default=100)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0, help="callers per second")
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
