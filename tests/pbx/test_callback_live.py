"""A callback asked for while waiting is really dialled, on the real Asterisk.

The resident calls 19115, presses 0 (a consultant), waits in `ogolna` past its callback
threshold, hears the offer, presses 1 and hangs up. Later a consultant becomes ready: they are
rung first (their screen-pop says it is a callback); when they answer, the resident's phone —
a scripted phone in [ckm-test-phones], dialled through [ckm-test-residents] the way
[ckm-outbound] dials a trunk — rings, answers
and is bridged with the consultant, and each hears the other. The CRM records the outcome.
A resident who does not answer is retried per the queue's settings and the callback is then
closed as failed; a withheld number is asked for a number instead of being silently dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ckm.assembly import Center
from cti import events as ce
from cti.callback_offer import Phase
from ground import events as domain
from ground.settings import Settings
from pbx.ari_client import AriClient

from .audio_taps import heard_samples, until
from .live_center import Recorder, call_into_queue, crm_call, live_center, log_in

pytestmark = pytest.mark.asterisk

SCRIPTED_AGENT = "Local/answer@ckm-test-agents"


@pytest_asyncio.fixture
async def center(asterisk: Any, settings: Settings, tmp_path: Path
                 ) -> AsyncIterator[tuple[Center, Recorder]]:
    local = replace(settings, outbound_context="ckm-test-residents")
    async with live_center(local, tmp_path) as running:
        c, _ = running
        board = c.switchboard
        config = board.acd.queues["ogolna"]
        # A short wait threshold, then the callback offer; quick retries for the test.
        board.feed(ce.QueueConfigured(board.now(), replace(
            config, overflow_after_s=2.0, overflow_to_callback=True, overflow_queue=None,
            callback_attempts=2, callback_retry_s=1.0, wrapup_s=0.0)))
        yield running


async def call_and_ask_for_callback(c: Center, phone: AriClient, settings: Settings,
                                    caller_id: str, typed_number: str = "") -> str:
    """Call 19115, press 0, wait for the callback offer, press 1 (and type a number when the
    center asks for one); returns the call's id in the ACD."""
    adapter = c.router
    caller, call_id = await call_into_queue(c, phone, settings, caller_id)
    await until("the callback offer",
                _async(lambda: adapter.places[call_id].offer.phase is Phase.OFFERED), 15)
    await phone.send_dtmf(caller, "1")
    if typed_number:
        await until("the center to ask for a number",
                    _async(lambda: adapter.places[call_id].offer.phase is Phase.ENTERING), 10)
        # A resident types at human speed.
        for key in typed_number + "#":
            await phone.send_dtmf(caller, key)
            await asyncio.sleep(0.3)  # a key every 0.3 s: the typing speed is the behaviour
    gone = phone.expect("StasisEnd", caller)
    await asyncio.wait_for(gone, 20)  # "we will call you back", then the center hangs up
    return call_id


def _async(check: Any) -> Any:
    async def probe() -> Any:
        try:
            return check()
        except KeyError:
            return False
    return probe


async def test_a_callback_rings_the_consultant_then_dials_and_bridges_the_resident(
        center: tuple[Center, Recorder], phone: AriClient, settings: Settings) -> None:
    c, recorder = center
    board = c.switchboard
    call_id = await call_and_ask_for_callback(c, phone, settings, '"Jan Kowalski" <48600100200>')
    entry = board.acd.entries[call_id]
    assert entry.callback and entry.caller.number == "48600100200"
    # The resident has hung up; nobody is ready yet: the callback keeps its place.
    assert not [e for e in recorder.of(domain.CallOffered) if e.call_id == call_id]

    await log_in(c, "konsultant1", SCRIPTED_AGENT)
    offered = await until("the consultant to be offered the callback",
                          _async(lambda: [e for e in recorder.of(domain.CallOffered)
                                          if e.call_id == call_id]), 15)
    assert offered[0].agent == "konsultant1"
    ari = phone

    async def bridged() -> dict[str, Any] | None:
        for b in await ari.bridges():
            if b["id"] == f"ckm-call-{call_id}" and len(b["channels"]) == 2:
                return b
        return None

    bridge = await until("the consultant and the resident to be bridged", bridged, 30)
    resident_leg = next(ch for ch in bridge["channels"] if ch.startswith("resident-cb-"))
    # The resident's phone is a real call dialled out through [ckm-test-residents], answered.
    dialled = [ch for ch in await ari.channels()
               if ch["dialplan"]["context"] == "ckm-test-phones" and ch["state"] == "Up"]
    assert dialled and "48600100200" in dialled[0]["name"], dialled
    # The resident hears the consultant (the scripted consultant beeps every two seconds).
    heard = await heard_samples(ari, settings, resident_leg, 4.5)
    assert max(abs(s) for s in heard) > 1000, "the resident hears nothing"
    agent_leg = next(ch for ch in bridge["channels"] if ch != resident_leg)
    heard = await heard_samples(ari, settings, agent_leg, 4.5)
    assert max(abs(s) for s in heard) > 1000, "the consultant hears nothing"

    await ari.hangup(resident_leg)
    await until("the call to end", _async(lambda: not board.holds(call_id)), 10)
    view = await crm_call(c, call_id, lambda v: v.callback_status == "reached",
                          "the CRM to record the reached callback")
    assert (view.callback_number, view.callback_attempts, view.agent_username) == (
        "48600100200", 1, "konsultant1")
    assert view.end_reason != "abandoned"
    left = [e for e in recorder.events if e.call_id == call_id and e.kind == "call_ended"]
    assert left, "the inbound call was never closed in the CRM"


async def test_a_withheld_number_is_asked_for_and_a_resident_who_never_answers_is_retried(
        center: tuple[Center, Recorder], phone: AriClient, settings: Settings) -> None:
    c, recorder = center
    board = c.switchboard
    # No caller id: the center asks for a number; the resident types one that is busy.
    call_id = await call_and_ask_for_callback(c, phone, settings, '"" <anonymous>',
                                              typed_number="48000000150")
    assert board.acd.entries[call_id].caller.number == "48000000150"
    await log_in(c, "konsultant1", SCRIPTED_AGENT)

    async def closed() -> bool:
        return not board.holds(call_id)

    def attempts() -> list[tuple[int, bool, bool]]:
        return [(a.attempt, a.reached, a.final) for a in recorder.of(domain.CallbackAttempted)
                if a.call_id == call_id]

    await until("both attempts to fail and the callback to close", closed, 60)
    # The bus delivers the ACD's notices after the ACD has let the call go.
    await until("the final attempt to be published", _async(lambda: len(attempts()) >= 2), 10)
    assert attempts() == [(1, False, False), (2, False, True)]
    # The consultant is free again, not stuck on a callback nobody answers, and their phone
    # was hung up after each attempt.
    assert board.acd.agents["konsultant1"].status.value == "available"
    ari = phone

    async def no_agent_leg() -> bool:
        return not [ch for ch in await ari.channels() if ch["id"].startswith(call_id)]

    await until("the consultant's legs to be hung up", no_agent_leg, 10)
    view = await crm_call(c, call_id, lambda v: v.callback_status == "failed",
                          "the CRM to record the failed callback")
    assert (view.callback_number, view.callback_attempts) == ("48000000150", 2)
