"""A controller restart with residents waiting in line: they keep their places.

The first center queues three residents while the only consultant is on a break, then stops
(as a restart would). A second center on the same data folder restores the ACD's snapshot and
re-adopts the waiting channels from Asterisk; when the consultant comes back, the residents
are connected in the order they first called.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cti import events as ce
from cti.cli import snapshot_path
from ground import events as domain
from ground.settings import Settings
from pbx.ari_client import AriClient
from pbx.caller import CallPlan, place_call
from tests.polling import wait_until

from .live_center import live_center, log_in, set_wrapup

pytestmark = pytest.mark.asterisk

AGENT = "Local/answer@ckm-test-agents"


def resident(number: str) -> CallPlan:
    return CallPlan.from_args(number="19115", caller_id=number, name="Czekający",
                              dtmf="w6," + ",".join(["0,w1.5"] * 12).rstrip(",w1.5"), say=[],
                              hangup_after=75, wait_answer=10)


async def test_waiting_residents_keep_their_places_across_a_controller_restart(
        asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    calls = []
    async with live_center(settings, tmp_path) as (center, recorder):
        set_wrapup(center, "ogolna", 1.0)
        await log_in(center, "konsultant1", AGENT)
        board = center.switchboard
        board.feed(ce.AgentPaused(at=board.now(), agent="konsultant1", reason="przerwa"))
        for number in ("+48600100301", "+48600100302", "+48600100303"):
            calls.append(asyncio.create_task(place_call(settings, resident(number))))
            # Residents call one after another, 1.5 s apart (human pacing: their order in the
            # line is what the restart must keep).
            await asyncio.sleep(1.5)
        await wait_until("the three residents in the queue",
                         lambda: len(recorder.of(domain.CallQueued)) == 3, 60)
        first_order = [e.call_id for e in recorder.of(domain.CallQueued)]
        snapshot = snapshot_path(center.settings)
        await wait_until("the snapshot to hold the three residents",
                         lambda: snapshot.exists()
                         and all(c in snapshot.read_text(encoding="utf-8") for c in first_order),
                         5)

    # The residents are still on the line, in the holding bridge, while no controller runs;
    # the second of them gives up meanwhile.
    await asyncio.sleep(1.0)  # the gap with no controller at all: what the restart must survive
    assert not any(c.done() for c in calls)
    observer = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, "ckm-obs")
    await observer.hangup(first_order[1])

    async def hung_up() -> bool:  # gone from Asterisk, as a resident's hang-up is
        return first_order[1] not in {ch["id"] for ch in await observer.channels()}

    await wait_until("the second resident's channel to be gone before the restart", hung_up, 10,
                     every_s=0.1)
    await observer.stop()

    async with live_center(settings, tmp_path, fresh_db=False) as (center, recorder):
        board = center.switchboard
        # The one who hung up is no ghost in the line: the snapshot is reconciled with the
        # channels Asterisk still has, and their place is closed as abandoned.
        await wait_until("the one who hung up to leave the restored line",
                         lambda: first_order[1] not in {e.call_id for e in board.acd.entries.values()},
                         10)
        waiting = [e.call_id for e in board.acd.entries.values()]
        assert sorted(waiting) == sorted([first_order[0], first_order[2]]), (
            "the snapshot lost someone or kept a ghost")
        if "konsultant1" not in board.acd.agents:
            await log_in(center, "konsultant1", AGENT)
        board.feed(ce.AgentReady(at=board.now(), agent="konsultant1"))
        await wait_until("the consultant to be connected to the first in line",
                         lambda: recorder.of(domain.AgentConnected), 90)
        connected = [e.call_id for e in recorder.of(domain.AgentConnected)]
        assert connected[:1] == first_order[:1], "the first in line is served first"
        assert first_order[1] not in [e.call_id for e in recorder.of(domain.CallOffered)]
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        ari = center.ari
        for chan in await ari.channels():
            if chan["id"] in first_order:  # this test's calls only, never another session's
                await ari.hangup(chan["id"])
        # Nothing of these calls is left in Asterisk once they are over.
        async def no_bridge_left() -> bool:
            return not [b for b in await ari.bridges() if b["id"].startswith("ckm-")]

        await wait_until("no bridge of these calls to be left", no_bridge_left, 5, every_s=0.1)
