"""A supervisor listens to, whispers into and barges into a live consultant call, on the real
Asterisk, and hears the call.

The consultant is the scripted agent of [ckm-test-agents] (it answers and plays a beep every two
seconds); the supervisor's phone is the same scripted endpoint. What the supervisor hears is
recorded through a second, observer-owned snoop on the supervisor's leg (spy=out: the audio
sent to the supervisor) and fetched from Asterisk's stored recordings: a beep in it is the
consultant's side of the call reaching the supervisor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ckm.assembly import Center
from cti import events as ce
from ground.settings import Settings
from pbx.ari_client import AriClient
from pbx.caller import CallPlan, place_call

from .audio_taps import heard_samples, until
from .live_center import Recorder, live_center, log_in

pytestmark = pytest.mark.asterisk

SCRIPTED_PHONE = "Local/answer@ckm-test-agents"
OBSERVER = "ckm-observer-snoop"


@pytest_asyncio.fixture
async def center(asterisk: Any, settings: Settings, tmp_path: Path
                 ) -> AsyncIterator[tuple[Center, Recorder]]:
    async with live_center(settings, tmp_path) as running:
        yield running


async def heard_by(ari: AriClient, settings: Settings, supervisor_leg: str,
                   seconds: float = 4.5) -> float:
    """Peak amplitude (0..32767) of what Asterisk sends to `supervisor_leg` over `seconds`."""
    samples = await heard_samples(ari, settings, supervisor_leg, seconds)
    return float(max(abs(s) for s in samples))


async def test_supervisor_listens_whispers_and_barges(center: tuple[Center, Recorder],
                                                      settings: Settings) -> None:
    c, _ = center
    board = c.switchboard
    await log_in(c, "konsultant1", SCRIPTED_PHONE)
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, OBSERVER)
    await ari.start()
    assert await ari.wait_connected(5)
    plan = CallPlan.from_args(number="19115", caller_id="+48600100200", name="Anna Nowak",
                              dtmf="w6,0,w2,0,w2,0,w2,0,w2,0,w2,0", say=[],
                              hangup_after=60, wait_answer=10)
    call = asyncio.create_task(place_call(settings, plan))
    try:
        async def call_bridge() -> dict[str, Any] | None:
            return next((b for b in await ari.bridges() if b["id"].startswith("ckm-call-")
                         and len(b["channels"]) == 2), None)

        bridge = await until("the caller and the consultant to be bridged", call_bridge, 30)
        call_id = bridge["id"].removeprefix("ckm-call-")

        async def supervisor_bridge() -> dict[str, Any] | None:
            return next((b for b in await ari.bridges() if b["id"].startswith("ckm-snoop-")
                         and len(b["channels"]) == 2), None)

        # Listen: a snoop on the consultant's leg, bridged to the supervisor's phone.
        board.feed(ce.SnoopRequested(board.now(), call_id, "kierownik", SCRIPTED_PHONE,
                                     ce.SnoopMode.LISTEN))
        listening = await until("the supervisor's listen bridge", supervisor_bridge)
        leg = listening["id"].removeprefix("ckm-snoop-")
        assert await heard_by(ari, settings, leg) > 1000, "the supervisor hears nothing"
        call_now = await call_bridge()
        assert call_now is not None and leg not in call_now["channels"], (
            "listening must not put the supervisor into the conversation")
        await ari.hangup(leg)
        await until("the listen bridge to go", lambda: _no_snoop_bridge(ari))

        # Whisper: the same, the snoop also carrying the supervisor's voice to the consultant.
        board.feed(ce.SnoopRequested(board.now(), call_id, "kierownik", SCRIPTED_PHONE,
                                     ce.SnoopMode.WHISPER))
        whispering = await until("the supervisor's whisper bridge", supervisor_bridge)
        leg = whispering["id"].removeprefix("ckm-snoop-")
        assert await heard_by(ari, settings, leg) > 1000
        await ari.hangup(leg)
        await until("the whisper bridge to go", lambda: _no_snoop_bridge(ari))

        # Barge: the supervisor joins the call's own bridge, three parties.
        board.feed(ce.SnoopRequested(board.now(), call_id, "kierownik", SCRIPTED_PHONE,
                                     ce.SnoopMode.BARGE))

        async def three_way() -> dict[str, Any] | None:
            # This call's bridge by its name: an earlier test's call may have left its own
            # (the sweep takes empty ones after a minute), and the first one listed is not
            # necessarily ours (a clean-clone CI run waited 20 s on another's).
            found = await call_bridge_of(ari, call_id)
            return found if found is not None and len(found["channels"]) == 3 else None

        joined = await until("the supervisor in the call bridge", three_way)
        barger = next(ch for ch in joined["channels"] if ch.startswith("supervisor-"))
        assert await heard_by(ari, settings, barger) > 1000
        await ari.hangup(barger)
        # The conversation goes on without the supervisor.
        async def two_again() -> bool:
            found = await call_bridge_of(ari, call_id)
            return found is not None and len(found["channels"]) == 2

        assert await until("the call to be two again", two_again)
    finally:
        call.cancel()
        for ch in await ari.channels():
            if ch["id"].startswith(("resident", "supervisor", "snoop", "obs-")):
                await ari.hangup(ch["id"])
        await ari.stop()


async def call_bridge_of(ari: AriClient, call_id: str) -> dict[str, Any] | None:
    return next((b for b in await ari.bridges() if b["id"] == f"ckm-call-{call_id}"), None)


async def _no_snoop_bridge(ari: AriClient) -> bool:
    """The supervisor hung up: their bridge and the snoop on the consultant are both gone."""
    return not any(b["id"].startswith("ckm-snoop-") for b in await ari.bridges()) and not any(
        c["id"].startswith("snoop-") for c in await ari.channels())
