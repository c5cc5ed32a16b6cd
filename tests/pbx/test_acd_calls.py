"""The IVR hands a real call to the ACD, which rings a scripted agent and bridges them.

Everything is real: Asterisk (sandbox), the controller, the ACD switchboard with queues from a
seeded CRM database (SQLite in a temporary folder), the pbx adapter. The agent is a scripted
endpoint in the dialplan ([ckm-test-agents]): it rings for a second, answers and stays.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ckm.assembly import Center
from ground import events as domain
from ground.settings import Settings
from pbx.ari_client import AriClient
from pbx.caller import CallPlan, place_call
from tests.polling import wait_until

from .live_center import Recorder, live_center, log_in

pytestmark = pytest.mark.asterisk


@pytest_asyncio.fixture
async def center(asterisk: Any, settings: Settings, tmp_path: Path
                 ) -> AsyncIterator[tuple[Center, Recorder]]:
    async with live_center(settings, tmp_path) as running:
        yield running


async def test_zero_in_the_ivr_reaches_a_consultant_who_is_rung_and_bridged(
        center: tuple[Center, Recorder], settings: Settings) -> None:
    c, recorder = center
    await log_in(c, "konsultant1", "Local/answer@ckm-test-agents")
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, "ckm-observer")
    # Zeros while the greeting and the 112 notice play are not inputs there; the first one
    # heard by a menu takes the caller to a consultant.
    plan = CallPlan.from_args(number="19115", caller_id="+48600100200", name="Anna Nowak",
                              dtmf="w6,0,w2,0,w2,0,w2,0,w2,0,w2,0", say=[],
                              hangup_after=26, wait_answer=10)
    call = asyncio.create_task(place_call(settings, plan))

    async def both_bridged() -> bool:
        bridged = [b for b in await ari.bridges() if b["id"].startswith("ckm-call-")]
        return bool(bridged) and len(bridged[0]["channels"]) == 2

    try:
        await wait_until("caller and agent to be bridged", both_bridged, 26, every_s=0.1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; events: " + repr(
            [(e.kind, getattr(e, "node", ""), getattr(e, "input_value", ""))
             for e in recorder.events])) from None
    summary = await call
    call_id = summary.callee_channel
    await wait_until("the call's end to be published", lambda: "call_ended" in recorder.kinds(call_id),
                     10)
    kinds = recorder.kinds(call_id)
    assert kinds.index("call_queued") < kinds.index("call_offered") < kinds.index(
        "agent_connected") < kinds.index("call_ended")
    queued = next(e for e in recorder.events if isinstance(e, domain.CallQueued))
    assert queued.queue == "ogolna"
    offered = next(e for e in recorder.events if isinstance(e, domain.CallOffered))
    assert offered.agent == "konsultant1"
    # The scripted resident saw it too, from Asterisk alone: the queue and who answered.
    assert summary.queue == "ogolna" and summary.queue_request["queue"] == "ogolna"
    assert [(a.agent, a.endpoint.startswith("Local/answer@ckm-test-agents")) for a in
            summary.agents] == [("konsultant1", True)], summary.agents
    assert summary.ivr_path and summary.ivr_path[-1].endswith(":0"), summary.ivr_path
    # Nothing of the call is left in Asterisk: no bridge, no agent leg.
    async def nothing_left() -> bool:
        return not ([b["id"] for b in await ari.bridges()] + [
            ch["id"] for ch in await ari.channels() if call_id in ch["id"]])

    await wait_until("no bridge and no leg of the call to be left", nothing_left, 5, every_s=0.1)
    await ari.stop()


async def test_zero_pressed_during_the_greeting_reaches_a_consultant(
        center: tuple[Center, Recorder], settings: Settings) -> None:
    c, recorder = center
    await log_in(c, "konsultant1", "Local/answer@ckm-test-agents")
    # One key, two seconds into the greeting, and nothing more.
    plan = CallPlan.from_args(number="19115", caller_id="+48600100201", name="Jan Nowak",
                              dtmf="w2,0", say=[], hangup_after=20, wait_answer=10)
    call = asyncio.create_task(place_call(settings, plan))
    try:
        with contextlib.suppress(AssertionError):  # the assertion below says what happened
            await wait_until("the call to be offered", lambda: recorder.of(domain.CallOffered), 15)
        offered = recorder.of(domain.CallOffered)
        assert offered and offered[0].agent == "konsultant1", (
            [(e.kind, getattr(e, "node", ""), getattr(e, "input_value", ""))
             for e in recorder.events])
        queued = recorder.of(domain.CallQueued)[0]
        assert queued.queue == "ogolna"
        steps = [(e.node, e.input_value) for e in recorder.of(domain.IvrStep)]
        assert steps[0] == ("greeting", "0"), steps
    finally:
        await asyncio.gather(call, return_exceptions=True)  # the resident hangs up at 20 s
