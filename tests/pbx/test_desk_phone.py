"""A consultant works with a desk SIP phone instead of the browser: a real user agent (baresip)
registers as a desk phone extension, the consultant whose CRM extension it is logs in and is
ready, a resident's call goes through the IVR to the queue, the ACD rings the desk phone, the
phone answers by itself, and audio flows both ways: the phone hears the resident's 1 kHz tone,
the resident hears the phone's 400 Hz tone.

Everything is real: Asterisk (sandbox), the controller and the ACD with queues from a seeded
CRM, the pbx adapter, baresip as its own process speaking SIP over UDP and RTP.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ckm import events as domain
from ckm.settings import Settings
from crm_core.services import users
from cti import protocol
from cti.ports import Principal, Role
from pbx.ari_client import AriClient, new_id
from pbx.asterisk_config import desk_phone_users
from pbx.caller import CallPlan, place_call, stage_audio

from .audio_taps import heard_samples, until
from .desk_phone import DeskPhone, read_wav, tone, tone_share
from .live_center import live_center

pytestmark = pytest.mark.asterisk

OBSERVER = "ckm-observer-desk"
RESIDENT_HZ, PHONE_HZ = 1000, 400


async def test_a_desk_sip_phone_is_rung_by_the_acd_answers_and_audio_flows_both_ways(
        asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    extension = desk_phone_users(settings)[-1]
    resident_tone = tone(tmp_path / "resident.wav", RESIDENT_HZ, 6)
    phone = DeskPhone(settings, extension, tmp_path / "baresip",
                      speaks=tone(tmp_path / "phone.wav", PHONE_HZ, 120))
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, OBSERVER)
    await ari.start()
    assert await ari.wait_connected(5)
    call: asyncio.Task[Any] | None = None
    try:
        async with live_center(settings, tmp_path / "center") as (c, recorder):
            # The CRM user's extension decides the phone: in desk_phone_extensions → desk phone.
            users.update_user(c.services["crm.db"], "konsultant1", extension=extension)
            phone.start()
            await phone.registered(ari)

            # The consultant logs in (ready at once) as the desk does: the CTI command.
            board = c.services["cti.switchboard"]
            me = Principal("konsultant1", Role.CONSULTANT)
            await board.execute(me, protocol.Login(id=None))
            agent = board.acd.agents["konsultant1"]
            assert agent.endpoint == f"PJSIP/{extension}" and "konsultant1" in board.acd.available

            plan = CallPlan.from_args(number="19115", caller_id="+48600100200", name="Anna Nowak",
                                      dtmf="w6,0,w2,0,w2,0,w2,0,w2,0,w2,0", say=[],
                                      hangup_after=60, wait_answer=10)
            call = asyncio.create_task(place_call(settings, plan))

            async def phone_bridged() -> tuple[dict[str, Any], dict[str, Any]] | None:
                chans = {ch["id"]: ch for ch in await ari.channels()}
                for bridge in await ari.bridges():
                    members = [chans[i] for i in bridge["channels"] if i in chans]
                    desk = [m for m in members if m["name"].startswith(f"PJSIP/{extension}-")]
                    if bridge["id"].startswith("ckm-call-") and len(members) == 2 and desk \
                            and desk[0]["state"] == "Up":
                        resident = next(m for m in members if m is not desk[0])
                        return desk[0], resident
                return None

            desk_leg, resident_in = await until("the desk phone to answer and be bridged",
                                                phone_bridged, 40)
            # The resident's own half of the Local channel: what it plays enters the call.
            resident_out = next(ch for ch in await ari.channels()
                                if ch["name"] == resident_in["name"].replace(";2", ";1"))
            await ari.play(resident_out["id"], stage_audio(settings, resident_tone), new_id("tone"))
            resident_heard = await heard_samples(ari, settings, resident_in["id"], 4.0)
            await ari.hangup(desk_leg["id"])  # the consultant hangs up
            summary = await asyncio.wait_for(call, 20)
            assert summary.answered and summary.ended_by == "center"
            await c.bus.drain()
            offered = recorder.of(domain.CallOffered)
            assert [e.agent for e in offered] == ["konsultant1"]
            assert recorder.of(domain.AgentConnected), "the ACD never saw the desk phone answer"
        phone.stop()

        # The desk phone heard the resident; the resident heard the desk phone.
        heard, rate = read_wav(phone.heard())
        assert max(abs(s) for s in heard) > 3000, f"the desk phone heard silence:\n{phone.log_tail()}"
        share = tone_share(heard, rate, RESIDENT_HZ)
        assert share > 0.5, f"the desk phone did not hear the resident ({share:.0%} at 1 kHz)"
        assert max(abs(s) for s in resident_heard) > 3000, "the resident heard silence"
        share = tone_share(resident_heard, 8000, PHONE_HZ)
        assert share > 0.5, f"the resident did not hear the desk phone ({share:.0%} at 400 Hz)"
        # Each side heard the other, not itself: no echo of its own tone came back.
        assert tone_share(heard, rate, PHONE_HZ) < 0.05
        assert tone_share(resident_heard, 8000, RESIDENT_HZ) < 0.05
        leftovers = [ch["name"] for ch in await ari.channels()
                     if ch["name"].startswith(f"PJSIP/{extension}-")]
        assert leftovers == []
    finally:
        phone.stop()
        if call is not None and not call.done():
            call.cancel()
        for ch in await ari.channels():
            if ch["id"].startswith("obs-"):
                await ari.hangup(ch["id"])
        await ari.stop()
