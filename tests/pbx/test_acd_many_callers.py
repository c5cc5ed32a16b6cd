"""Many residents, two consultants, one queue — through the real Asterisk.

Scripted agents are dialplan endpoints that ring for a second and answer; scripted residents
(`ckm call`'s engine) dial 19115, press 0 (the consultant) as soon as a menu listens, and hang
up after their conversation — one of them before anyone is free (abandoned). A consultant's
desktop is stood in for by a websocket client on the CTI hub.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crm_core.services import users
from ground import events as domain
from ground.settings import Settings
from pbx.caller import CallPlan, place_call
from tests.polling import wait_until

from .live_center import free_port, live_center, log_in, set_wrapup

pytestmark = pytest.mark.asterisk

AGENT = "Local/answer@ckm-test-agents"


def resident(number: str, talk_s: float) -> CallPlan:
    # Zeros are not inputs while the greeting and the 112 notice play; the first menu takes one.
    return CallPlan.from_args(number="19115", caller_id=number, name=f"Mieszkaniec {number[-3:]}",
                              dtmf="w6," + ",".join(["0,w1.5"] * 12).rstrip(",w1.5"), say=[],
                              hangup_after=talk_s, wait_answer=10)


async def hub_client(port: int, token: str, frames: list[dict[str, Any]],
                     ready: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"http://127.0.0.1:{port}/cti/ws?token={token}") as ws:
        async for msg in ws:
            frame = json.loads(msg.data)
            frame["_t"] = asyncio.get_running_loop().time()
            frames.append(frame)
            if frame["type"] == "snapshot":
                ready.set()


async def test_each_caller_reaches_one_agent_in_arrival_order_and_abandon_is_counted(
        asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    async with live_center(settings, tmp_path, web_port=port) as (center, recorder):
        set_wrapup(center, "ogolna", 1.0)
        await log_in(center, "konsultant1", AGENT)
        await log_in(center, "konsultant2", AGENT)
        db = center.db
        user = users.authenticate(db, "konsultant1", "demo19115")
        assert user is not None
        token = users.open_session(db, user.id)
        frames: list[dict[str, Any]] = []
        ready = asyncio.Event()
        client = asyncio.create_task(hub_client(port, token, frames, ready))
        await asyncio.wait_for(ready.wait(), 10)

        plans = [resident("+48600100201", 34), resident("+48600100202", 34),
                 resident("+48600100203", 50), resident("+48600100204", 50),
                 resident("+48600100205", 26)]  # gives up while both consultants talk
        calls = []
        for plan in plans:
            calls.append(asyncio.create_task(place_call(settings, plan)))
            # Residents call 1.5 s apart (human pacing: the order they called in is checked).
            await asyncio.sleep(1.5)
        summaries = await asyncio.gather(*calls)
        ids = [s.callee_channel for s in summaries]
        await wait_until("every call's end to be published", lambda: {
            e.call_id for e in recorder.of(domain.CallEnded)} >= set(ids), 10)
        client.cancel()

        queued = [e.call_id for e in recorder.of(domain.CallQueued)]
        assert queued == ids, "every resident reached the queue, in the order they called"
        connected = recorder.of(domain.AgentConnected)
        per_call = {cid: [e.agent for e in connected if e.call_id == cid] for cid in ids}
        assert all(len(per_call[cid]) == 1 for cid in ids[:4]), per_call
        assert per_call[ids[4]] == [], "the resident who gave up was never connected"
        # First come, first served: connections in the order of arrival.
        assert [e.call_id for e in connected] == ids[:4]
        # No consultant ever had two calls at once.
        for agent in ("konsultant1", "konsultant2"):
            spans = []
            for e in connected:
                if e.agent == agent:
                    end = next(x.at for x in recorder.of(domain.CallEnded) if x.call_id == e.call_id)
                    spans.append((e.at, end))
            spans.sort()
            assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
        figures = center.switchboard.figures_view()
        ogolna = next(q for q in figures["queues"] if q["queue"] == "ogolna")
        assert ogolna["answered"] == 4 and ogolna["abandoned"] == 1, ogolna

        # konsultant1's desktop had each pop, with the caller's CRM data, before answering.
        events = [f for f in frames if f["type"] == "event"]
        offers = [f for f in events if f["event"] == "call_offered"
                  and f["data"]["agent"] == "konsultant1"]
        assert offers, "konsultant1 was never offered a call"
        for offer in offers:
            call_id = offer["data"]["call_id"]
            pop = offer["data"]["screen_pop"]
            assert pop["caller_number"].startswith("+486001002")
            assert "0" in "".join(pop["ivr_path"]) or pop["ivr_path"], pop
            answered = [f for f in events if f["event"] == "call_answered"
                        and f["data"]["call_id"] == call_id]
            assert answered and answered[0]["seq"] > offer["seq"]
            assert answered[0]["_t"] > offer["_t"]
        seqs = [f["seq"] for f in events]
        assert seqs == sorted(seqs), "deltas arrive in order"
