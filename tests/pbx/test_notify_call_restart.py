"""A resident who pressed 0 in a notification call keeps their place across a controller restart.

The center calls the resident with news about their case; the resident presses 0 and waits in
the ACD's line (the only consultant is on a break). The controller stops and a new one starts
on the same data folder, as after a restart: the waiting resident is not hung up, the
consultant who comes back is put through to them, and the resident's hang-up ends the call in
the ACD and frees the consultant — as for a caller who came in through the IVR
(`test_acd_restart.py`).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crm_core.services import cases
from cti import events as ce
from cti.agent import AgentStatus
from cti.cli import snapshot_path
from ground import events as domain
from ground.settings import Settings
from pbx import ari_events as ev
from pbx.ari_client import AriClient
from pbx.notify_dial import NotifyDialer
from tests.polling import wait_until

from .live_center import live_center, log_in
from .test_notify_call_live import DEPT, SCRIPTED_AGENT, _report_by_phone

pytestmark = pytest.mark.asterisk


async def test_a_notification_call_waiting_for_a_consultant_survives_a_controller_restart(
        asterisk: Any, phone: AriClient, settings: Settings, tmp_path: Path) -> None:
    local = replace(settings, outbound_context="ckm-test-residents",
                    notify_call_quiet_hours="none")
    rings: asyncio.Queue[ev.StasisStart] = asyncio.Queue()

    async def ringing(event: ev.AriEvent) -> None:
        if isinstance(event, ev.StasisStart) and event.args[:1] == ("phone",):
            rings.put_nowait(event)

    phone.on_event(ringing)
    mine = ""
    try:
        async with live_center(local, tmp_path) as (center, _):
            db, board = center.db, center.switchboard
            assert db is not None and board is not None and center.notify_calls is not None
            await log_in(center, "konsultant1", SCRIPTED_AGENT)
            board.feed(ce.AgentPaused(at=board.now(), agent="konsultant1", reason="przerwa"))
            case_id = await asyncio.to_thread(_report_by_phone, db, "+48000000303")
            await asyncio.to_thread(cases.transition_case, db, case_id, "in_progress", by=DEPT)
            mine = (await asyncio.wait_for(rings.get(), 30)).channel.id
            await phone.answer(mine)  # the resident picks up
            dialer = center.notify_calls.caller
            assert isinstance(dialer, NotifyDialer)
            [leg] = dialer.calls
            await wait_until("the message to start", lambda: leg in dialer.calls
                             and dialer.calls[leg].core.plays == 1, 15)
            await phone.send_dtmf(mine, "0")  # a key counts during the message too
            await wait_until("the resident to wait in the ACD's line",
                             lambda: leg in board.acd.entries, 15)
            snapshot = snapshot_path(center.settings)
            await wait_until("the snapshot to hold the resident", lambda: snapshot.exists()
                             and leg in snapshot.read_text(encoding="utf-8"), 5)

        async with live_center(local, tmp_path, fresh_db=False) as (center, recorder):
            board = center.switchboard
            assert board is not None and center.ari is not None
            assert leg in board.acd.entries, "the restored line lost the resident"
            if "konsultant1" not in board.acd.agents:
                await log_in(center, "konsultant1", SCRIPTED_AGENT)
            board.feed(ce.AgentReady(at=board.now(), agent="konsultant1"))
            ari = center.ari

            async def bridged() -> bool:
                return any(b["id"] == f"ckm-call-{leg}" and len(b["channels"]) == 2
                           for b in await ari.bridges())

            await wait_until("the resident and the consultant to be bridged", bridged, 30,
                             every_s=0.1)
            assert [e.agent for e in recorder.of(domain.AgentConnected)
                    if e.call_id == leg] == ["konsultant1"]

            await phone.hangup(mine)
            await wait_until("the call to end in the ACD", lambda: not board.holds(leg), 20)
            await wait_until("the consultant to be free of the call", lambda: board.acd.agents[
                "konsultant1"].status is not AgentStatus.ON_CALL, 10)

            async def nothing_left() -> bool:
                return not [b for b in await ari.bridges() if b["id"] == f"ckm-call-{leg}"] \
                    and leg not in {c["id"] for c in await ari.channels()}

            await wait_until("nothing of the call to be left in Asterisk", nothing_left, 10,
                             every_s=0.1)
    finally:
        if mine:
            await phone.hangup(mine)
