"""ckm's queue_log against app_queue's, same scenario on the same Asterisk, field by field.

The ACD benchmark's two sides: callers into app_queue (`Local/native-queue@ckm-bench`, queue
ckm-bench, scripted agents 7XX that ring 1 s, answer, talk 4 s and hang up) and into ckm's ACD
(`Local/controller-queue@ckm-bench` → Stasis → queue "bench", agents on Local/700, 701). Scenario on
each: a member joins, pauses, unpauses and leaves; one call answered and ended by the agent;
one caller who hangs up while the agent's phone rings. Asterisk's own queue_log (the sandbox's
/var/log/asterisk/queue_log) and ckm's (`data_dir/queue_log`) are then compared: the same
events per call, and for every event the same header fields set to NONE, the same number of
data fields, each of the same kind (a number, text or empty). Ids and times differ.
The same run scrapes ckm's /metrics: counters moved, and real ARI requests were timed.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bench import flows
from ckm import metrics
from ckm.assembly import assemble
from cti import events as ce
from cti.config import AgentProfile, Membership, QueueConfig
from ground.bus import EventBus
from ground.settings import Settings
from pbx import provision
from pbx.ari_client import AriClient, new_id
from pbx.controller import Controller
from tests.polling import wait_until

from .live_center import free_port

pytestmark = pytest.mark.asterisk

NATIVE_MEMBER = "Local/799@ckm-bench-agents"
Line = list[str]


def native_log(target: Any) -> Path:
    if isinstance(target, provision.Sandbox):
        return target.root / "var" / "log" / "asterisk" / "queue_log"
    return Path("/var/log/asterisk/queue_log")


def read_from(path: Path, offset: int) -> list[Line]:
    with path.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", "replace")
    return [row.split("|") for row in text.splitlines() if row.count("|") >= 4]


async def wait_for(read: Callable[[], list[Line]], done: Callable[[list[Line]], bool],
                   seconds: float, what: str) -> list[Line]:
    rows: list[list[Line]] = [[]]

    def finished() -> list[Line] | None:
        rows[0] = read()
        return rows[0] if done(rows[0]) else None

    try:
        return await wait_until(what, finished, seconds, every_s=0.05)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; lines: {rows[0]}") from None


def events_of(rows: list[Line], callid: str) -> list[str]:
    return [r[4] for r in rows if r[1] == callid]


async def run_side(phone: AriClient, endpoint: str, read: Callable[[], list[Line]],
                   variables: dict[str, str], what: str) -> tuple[str, str]:
    """One call answered and ended by the agent, one caller gone while the phone rings;
    returns the two call ids (the queue side's channel of each Local pair)."""
    placed: list[str] = []
    try:
        answered_caller, answered = new_id("qlog"), new_id("qlog-in")
        placed += [answered_caller, answered]
        await phone.originate(endpoint, channel_id=answered_caller, other_channel_id=answered,
                              app=phone.app, timeout=20, caller_id='"Jan" <+48600100201>',
                              variables=variables)
        await wait_for(read, lambda rows: "CONNECT" in events_of(rows, answered), 20,
                       f"{what}: CONNECT")
        gone_caller, gone = new_id("qlog"), new_id("qlog-in")
        placed += [gone_caller, gone]
        await phone.originate(endpoint, channel_id=gone_caller, other_channel_id=gone,
                              app=phone.app, timeout=20, caller_id='"Ewa" <+48600100202>',
                              variables=variables)
        await wait_for(read, lambda rows: "ENTERQUEUE" in events_of(rows, gone), 20,
                       f"{what}: ENTERQUEUE of the caller who hangs up")
        # The resident gives up 0.3 s into the wait, while the agent's phone rings (it rings
        # for 1 s before it answers): a human's timing, not a wait for something.
        await asyncio.sleep(0.3)
        await phone.hangup(gone_caller)
        await wait_for(read, lambda rows: "ABANDON" in events_of(rows, gone)
                       and "COMPLETEAGENT" in events_of(rows, answered), 20,
                       f"{what}: ABANDON and COMPLETEAGENT")
        # A ring the hang-up cancelled is logged (RINGCANCELED) as its leg goes: once no agent
        # leg is left, what will be written is written.
        async def no_agent_leg() -> bool:
            return not [c for c in await phone.channels() if "@ckm-bench-agents" in c["name"]]

        await wait_until(f"{what}: the agents' legs to be gone", no_agent_leg, 10, every_s=0.05)
        return answered, gone
    finally:
        for channel in placed:
            await phone.hangup(channel)


def kind(field: str) -> str:
    if field == "":
        return "empty"
    return "number" if re.fullmatch(r"-?\d+", field) else "text"


def shape(row: Line) -> tuple[Any, ...]:
    """What must agree between the two files for one line: the epoch is a number, which of
    callid / queue / agent are NONE, the event, and the kinds of its data fields."""
    return (kind(row[0]), row[1] == "NONE", row[2] == "NONE", row[3] == "NONE", row[4],
            tuple(kind(f) for f in row[5:]))


async def scrape(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert r.status == 200
        text = await r.text()
    return {f"{s.name}{{{','.join(f'{k}={v}' for k, v in sorted(s.labels.items()))}}}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_ckm_queue_log_matches_app_queue_field_by_field(
        asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    phone = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                      f"ckm-qlog-{os.getpid()}")
    await phone.start()
    assert await phone.wait_connected(5), phone.last_error
    try:
        # --- app_queue ------------------------------------------------------------------
        path = native_log(asterisk)
        start = path.stat().st_size if path.exists() else 0

        def native() -> list[Line]:
            return read_from(path, start) if path.exists() else []

        asterisk.cli(f"queue add member {NATIVE_MEMBER} to ckm-bench penalty 0 as ckmql")
        asterisk.cli(f"queue pause member {NATIVE_MEMBER} queue ckm-bench reason przerwa")
        asterisk.cli(f"queue unpause member {NATIVE_MEMBER} queue ckm-bench")
        asterisk.cli(f"queue remove member {NATIVE_MEMBER} from ckm-bench")
        n_answered, n_gone = await run_side(phone, "Local/native-queue@ckm-bench", native, {},
                                            "app_queue")
        native_rows = native()

        # --- ckm's ACD ------------------------------------------------------------------
        local = replace(settings, data_dir=tmp_path, ivr_models_dir=settings.models_dir)
        bus = EventBus()
        center = await assemble(local, bus, crm=False, speech=False,
                                extra_scripts=flows.SCRIPT_DIRS)
        board = center.switchboard
        app = web.Application()
        metrics.mount(app, center)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        center.controller = Controller(local, bus, ari=center.ari,
                                       library=center.library,
                                       prompts=center.prompts,
                                       router=center.router)
        try:
            await center.controller.start()
            assert await center.controller.ari.wait_connected(10)
            board.feed(ce.QueueConfigured(board.now(), QueueConfig(name="bench", wrapup_s=0)))
            member = AgentProfile("ckmql", memberships=(Membership("bench"),))
            board.feed(ce.AgentLoggedIn(board.now(), member, NATIVE_MEMBER))
            board.feed(ce.AgentPaused(board.now(), "ckmql", "przerwa"))
            board.feed(ce.AgentReady(board.now(), "ckmql"))
            board.feed(ce.AgentLoggedOut(board.now(), "ckmql"))
            for i in range(2):  # two, so the second caller rings one while the first talks
                agent = AgentProfile(f"agent0{i}", memberships=(Membership("bench", 0, i),))
                board.feed(ce.AgentLoggedIn(board.now(), agent,
                                            f"Local/70{i}@ckm-bench-agents"))
            url = f"http://127.0.0.1:{port}/metrics"
            before = await scrape(url)
            ours_path = local.queue_log_file

            def ours() -> list[Line]:
                return read_from(ours_path, 0) if ours_path.exists() else []

            o_answered, o_gone = await run_side(
                phone, "Local/controller-queue@ckm-bench", ours,
                {"_CKM_ROUTE_APP": local.ari_app}, "ckm")
            after = await scrape(url)
        finally:
            await runner.cleanup()
            await center.close()
        our_rows = ours()
    finally:
        await phone.stop()

    print("app_queue:", *("|".join(r) for r in native_rows), sep="\n  ")
    print("ckm:", *("|".join(r) for r in our_rows), sep="\n  ")
    # The same events for each call, in the same order (a ring cancelled by the caller's
    # hang-up is compared below: whether the ring had begun depends on timing).
    def calls(rows: list[Line], *ids: str) -> list[list[str]]:
        return [[e for e in events_of(rows, i) if not e.startswith("RING")] for i in ids]

    assert calls(our_rows, o_answered, o_gone) == calls(native_rows, n_answered, n_gone) == [
        ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"], ["ENTERQUEUE", "ABANDON"]]
    members = ("ADDMEMBER", "PAUSE", "UNPAUSE", "REMOVEMEMBER")
    assert [r[4] for r in our_rows if r[3] == "ckmql"] == list(members)
    # app_queue names the member by its interface in ADDMEMBER / REMOVEMEMBER and by its
    # member name in PAUSE; ckm uses the agent id in both (text either way).
    native_member = ("ckmql", NATIVE_MEMBER)
    assert [r[4] for r in native_rows if r[3] in native_member] == list(members)
    # Field by field: every event ckm wrote has app_queue's shape where app_queue wrote it.
    native_shapes = {r[4]: shape(r) for r in native_rows if r[1] in (n_answered, n_gone)
                     or r[3] in native_member}
    our_shapes = {r[4]: shape(r) for r in our_rows if r[1] in (o_answered, o_gone)
                  or r[3] == "ckmql"}
    for event, expected in native_shapes.items():
        if event in our_shapes:
            assert our_shapes[event] == expected, (event, our_shapes[event], expected)
    assert {"ENTERQUEUE", "CONNECT", "COMPLETEAGENT", "ABANDON", *members} <= set(our_shapes)
    pause = next(r for r in our_rows if r[4] == "PAUSE")
    assert pause[5:] == next(r for r in native_rows if r[4] == "PAUSE")[5:] == ["przerwa"]
    # Values that do not depend on ids: the answered caller waited about as long (a ring),
    # talked about 4 s, and the agent's channel in CONNECT is the one ckm rang.
    connect = next(r for r in our_rows if r[4] == "CONNECT")
    complete = next(r for r in our_rows if r[4] == "COMPLETEAGENT")
    assert int(connect[5]) <= 3 and 3 <= int(complete[6]) <= 6, (connect, complete)
    assert connect[6].startswith(o_answered) and connect[3] in ("agent00", "agent01")
    enter = next(r for r in our_rows if r[4] == "ENTERQUEUE" and r[1] == o_answered)
    assert enter[5:] == ["", "+48600100201", "1"]
    # The metrics of the same run moved with the calls; ARI requests were really timed.
    assert after["ckm_queue_calls_offered_total{queue=bench}"] - before.get(
        "ckm_queue_calls_offered_total{queue=bench}", 0) == 2
    assert after["ckm_queue_calls_answered_total{queue=bench}"] == 1
    assert after["ckm_queue_calls_abandoned_total{queue=bench}"] == 1
    assert after["ckm_queue_agents_logged_in{queue=bench}"] == 2
    timed = sum(v for k, v in after.items() if k.startswith("ckm_ari_request_seconds_count"))
    assert timed > 0
