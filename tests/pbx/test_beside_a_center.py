"""The suite never takes a running center's calls: Asterisk keeps the center's dialplan.

The sandbox is provisioned from the center's own settings (tests/conftest.py); the tests' calls
reach the session's controller only through the route variable a scripted resident sets. A
resident's call that names no route — every real call — still goes to the center's app.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ground.settings import Settings
from pbx import ari_events as ev
from pbx.ari_client import AriClient, AriError, new_id

pytestmark = pytest.mark.asterisk


async def test_a_residents_call_still_reaches_the_centers_app_while_the_tests_run(
        asterisk: Any, center_settings: Settings, settings: Settings) -> None:
    assert settings.ari_app != center_settings.ari_app
    globals_ = asterisk.cli("dialplan show globals")
    assert f"CKM_APP={center_settings.ari_app}" in globals_.replace(" ", ""), globals_
    probe = AriClient(center_settings.ari_base, center_settings.ari_user,
                      center_settings.ari_password, "ckm-probe")
    try:
        await probe.request("GET", f"/applications/{center_settings.ari_app}")
        center_is_running = True
    except AriError as exc:
        assert exc.status == 404, exc
        center_is_running = False
    finally:
        await probe.stop()
    if center_is_running:
        # A center runs beside the tests: placing a call would put a test call in its CRM.
        # Its app being registered and the dialplan naming it is what keeps its calls.
        return
    # No center here: stand in for it under its app name and call 19115 as a resident would.
    center = AriClient(center_settings.ari_base, center_settings.ari_user,
                       center_settings.ari_password, center_settings.ari_app)
    arrived: asyncio.Future[ev.StasisStart] = asyncio.get_running_loop().create_future()

    async def on_event(event: ev.AriEvent) -> None:
        if isinstance(event, ev.StasisStart) and not arrived.done():
            arrived.set_result(event)

    center.on_event(on_event)
    await center.start()
    try:
        assert await center.wait_connected(5), center.last_error
        caller = new_id("resident")
        await center.originate("Local/19115@inbound", channel_id=caller, context="ckm-test-caller",
                               extension="wait", caller_id='"Jan" <48600100200>',
                               variables={"CKM_WAIT": "5"})
        start = await asyncio.wait_for(arrived, 10)
        assert start.args[:1] == ("inbound",), start.args
        await center.hangup(start.channel.id)
        await center.hangup(caller)
    finally:
        await center.stop()
