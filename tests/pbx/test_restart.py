"""A controller killed with SIGKILL mid-call: the next one adopts the call and ends it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from ground.settings import Settings
from pbx.ari_client import AriClient
from pbx.caller import CallPlan, place_call
from tests.polling import wait_until

pytestmark = pytest.mark.asterisk


WEB_PORT = 18093


def start_controller(app: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CKM_WEB_PORT=str(WEB_PORT), CKM_ARI_APP=app)
    return subprocess.Popen(
        [sys.executable, "-m", "ckm.cli", "run", "--no-asterisk"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    await wait_until(what, predicate, timeout, every_s=0.05)


async def test_sigkilled_controller_call_is_readopted_and_nothing_is_left(
        asterisk: Any, settings: Settings) -> None:
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, "ckm-observer")
    first = start_controller(settings.ari_app)
    second: subprocess.Popen[bytes] | None = None

    async def controller_connected() -> bool:
        # Asterisk keeps a dead controller's app registered, so ask the controller itself.
        try:
            async with aiohttp.ClientSession() as http, \
                    http.get(f"http://127.0.0.1:{WEB_PORT}/healthz") as resp:
                return bool((await resp.json()).get("ari") == "connected")
        except aiohttp.ClientError:
            return False

    call: asyncio.Task[Any] | None = None
    try:
        # Inside the try: a controller that connects too late must still be killed (left
        # running, it takes the app name over from the next test's controller).
        await wait_for(controller_connected, 30, "the first controller to connect")
        # What other tests (or a center beside the suite) have in Asterisk is not this call's.
        others = {c["id"] for c in await ari.channels()}
        other_bridges = {b["id"] for b in await ari.bridges()}
        call = asyncio.create_task(place_call(settings, CallPlan(hangup_after=24,
                                                                 wait_answer=15)))

        async def call_is_listening() -> bool:
            # Killed while the menu listens: its audio tap is up too (a snoop, an externalMedia
            # channel and their bridge), the hardest moment to die in.
            channels = await ari.channels()
            tapped = any(c["id"].startswith("asr-media")
                         and c["dialplan"]["app_data"] == settings.ari_app for c in channels)
            for chan in channels:
                if (chan["id"].startswith("resident-in-") and chan["state"] == "Up"
                        and chan["id"] not in others):
                    return tapped and bool(chan.get("channelvars", {}).get("CKM_IVR"))
            return False

        await wait_for(call_is_listening, 15, "the first controller to answer and listen")
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        await asyncio.sleep(0.5)  # a while with no controller at all: what the call must survive
        assert not call.done(), "the call must survive the controller's death"
        second = start_controller(settings.ari_app)
        await wait_for(controller_connected, 15, "the second controller to connect")
        summary = await asyncio.wait_for(call, 30)
        assert summary.answered and summary.ended_by == "caller"
        # The second controller carried the call on: its prompts reached the resident.
        assert len(summary.prompts_heard) >= 2, summary.prompts_heard

        async def nothing_left() -> bool:
            # The first controller's audio tap (snoop + externalMedia + bridge) too: the
            # second one never owned it, so it must reclaim it.
            ours = [c for c in await ari.channels() if c["id"] not in others and (
                c["id"].startswith("resident")
                or c["dialplan"]["app_data"].startswith(settings.ari_app))]
            bridges = [b for b in await ari.bridges() if b["id"] not in other_bridges]
            return not ours and not bridges

        await wait_for(nothing_left, 5, "channels and bridges to be gone")
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=10)[0].decode()
        assert second.returncode == 0, output
        assert "call adopted" in output, output
        assert "reclaimed" in output, output
        assert '"calls_adopted": 1' in output and '"calls_ended": 1' in output
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        if call is not None and not call.done():
            call.cancel()
        await ari.stop()
