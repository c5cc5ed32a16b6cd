"""A consultant works with a desk SIP phone instead of the browser: a real user agent (baresip)
registers as a desk phone extension, the consultant whose CRM extension it is logs in and is
ready, a resident's call goes through the IVR to the queue, the ACD rings the desk phone, the
phone answers by itself, and audio flows both ways: the phone hears the resident's 1 kHz tone,
the resident hears the phone's 400 Hz tone.

Everything is real: Asterisk (sandbox), the controller and the ACD with queues from a seeded
CRM, the pbx adapter, baresip as its own process speaking SIP over UDP and RTP.

Where a certificate is configured, desk phones may register over TLS instead: the second test
adds the TLS transport to the shared sandbox's pjsip.conf (rendered from the center's own
settings plus a lab certificate; pjsip.conf names no Stasis app) and renders it back after.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ckm import tls
from crm_core.services import users
from cti import protocol
from cti.ports import Principal, Role
from ground import events as domain
from ground.phones import desk_phone_users
from ground.settings import Settings
from pbx import provision
from pbx.ari_client import AriClient, new_id
from pbx.caller import CallPlan, place_call, stage_audio

from .audio_taps import heard_samples, until
from .desk_phone import DeskPhone, install_pjsip_conf, read_wav, tone, tone_share
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
            users.update_user(c.db, "konsultant1", extension=extension)
            phone.start()
            await phone.registered(ari)
            listed = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "ckm.cli", "phones", "list", "--json"],
                capture_output=True, text=True, timeout=60, check=True)
            row = next(r for r in json.loads(listed.stdout) if r["user"] == extension)
            assert row["registered"] is True, "ckm phones list does not see the phone registered"

            # The consultant logs in (ready at once) as the desk does: the CTI command.
            board = c.switchboard
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


async def test_with_a_certificate_a_desk_phone_registers_and_is_called_over_tls(
        asterisk: Any, center_settings: Settings, settings: Settings, tmp_path: Path) -> None:
    assert isinstance(asterisk, provision.Sandbox), "the TLS test provisions the sandbox's SIP"
    made = tls.make_lab_certificates(tmp_path / "tls")
    with_tls = replace(center_settings, tls_cert=made.cert, tls_key=made.key)
    extension = desk_phone_users(settings)[-2]
    phone = DeskPhone(settings, extension, tmp_path / "baresip",
                      speaks=tone(tmp_path / "phone.wav", PHONE_HZ, 30), tls_ca=made.ca)
    for scratch in ("ast-tls", "ast-back"):
        (tmp_path / scratch).mkdir()
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, OBSERVER)
    await ari.start()
    assert await ari.wait_connected(5)
    try:
        transports = install_pjsip_conf(asterisk, with_tls, tmp_path / "ast-tls")
        bind = f"{settings.sip_bind}:{settings.sip_tls_port}"
        assert any("transport-tls" in line and " tls " in line and bind in line
                   for line in transports.splitlines()), transports
        method = [line for line in asterisk.cli("pjsip show transport transport-tls").splitlines()
                  if line.strip().startswith("method")]
        assert method and method[0].split(":", 1)[1].strip() == "tlsv1_2", (
            f"Asterisk kept an earlier transport-tls ({method}): PJSIP does not reload a "
            "transport's bind or TLS method, and keeps a removed one until it restarts — restart "
            "Asterisk once (ckm asterisk down; ckm asterisk up)")
        phone.start()
        await phone.registered(ari)
        assert any("{0/TLS/v4} 200 OK" in line for line in phone.log_lines()), phone.log_tail()

        # Asterisk calls the phone the way it registered: the INVITE comes over TLS.
        leg = new_id("desk-tls")
        answered = ari.expect("StasisStart", leg)
        await ari.originate(f"PJSIP/{extension}", channel_id=leg, app=OBSERVER,
                            caller_id='"Test TLS" <19115>', timeout=10)
        await asyncio.wait_for(answered, 10)
        assert any("sipsess connect via TLS" in line for line in phone.log_lines()), phone.log_tail()
        clip = stage_audio(settings, tone(tmp_path / "resident.wav", RESIDENT_HZ, 3))
        tone_id = new_id("tone")
        played = ari.expect("PlaybackFinished", tone_id)
        await ari.play(leg, clip, tone_id)
        await asyncio.wait_for(played, 10)  # the 3 s tone, all of it
        await ari.hangup(leg)
        phone.stop()
        heard, rate = read_wav(phone.heard())
        share = tone_share(heard, rate, RESIDENT_HZ)
        assert share > 0.5, f"the phone heard {share:.0%} of the 1 kHz tone over the TLS call"
    finally:
        phone.stop()
        restored = install_pjsip_conf(asterisk, center_settings, tmp_path / "ast-back")
        await ari.stop()
    assert ("transport-tls" in restored) == center_settings.tls, restored
