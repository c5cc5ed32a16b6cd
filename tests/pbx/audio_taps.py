"""What a party of a live call hears, recorded through an observer's snoop on their leg.

The observer app owns a snoop (spy=out: the audio Asterisk sends to `leg`) and records it into
Asterisk's stored recordings, fetched over ARI and deleted again.
"""

from __future__ import annotations

import array
import asyncio
import io
import wave
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from ground.settings import Settings
from pbx.ari_client import AriClient, new_id
from tests.polling import wait_until


async def until(what: str, probe: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    # Most probes ask Asterisk: every 0.1 s, not wait_until's 20 ms.
    return await wait_until(what, probe, timeout, every_s=0.1)


async def heard_samples(ari: AriClient, settings: Settings, leg: str,
                        seconds: float = 4.5) -> array.array[int]:
    """8 kHz 16-bit samples of what Asterisk sends to `leg` over `seconds` (`ari` owns the tap)."""
    tap, name = new_id("obs-snoop"), new_id("heard")
    entered = ari.expect("StasisStart", tap)
    await ari.request("POST", f"/channels/{leg}/snoop/{tap}", {"app": ari.app, "spy": "out"})
    await asyncio.wait_for(entered, 5)
    await ari.request("POST", f"/channels/{tap}/record",
                      {"name": name, "format": "wav", "maxDurationSeconds": int(seconds) + 1,
                       "ifExists": "overwrite"})
    await asyncio.sleep(seconds)  # the listening window itself: what is heard in it is measured
    await ari.hangup(tap)
    await recording_stored(ari, name)
    samples = await stored_recording(ari, settings, name)
    assert len(samples) > 8000, "the recording is shorter than a second"
    return samples


async def recording_stored(ari: AriClient, name: str) -> None:
    """Wait until the live recording `name` is over and its file is stored."""
    async def stored() -> bool:
        live = await ari.request("GET", f"/recordings/live/{name}", gone_ok=True)
        return live is None and await ari.request(
            "GET", f"/recordings/stored/{name}", gone_ok=True) is not None

    await wait_until(f"the recording {name} to be stored", stored, 10, every_s=0.05)


async def stored_recording(ari: AriClient, settings: Settings, name: str) -> array.array[int]:
    """The samples of Asterisk's stored recording `name`, fetched over ARI and then deleted."""
    auth = aiohttp.encode_basic_auth(settings.ari_user, settings.ari_password)  # type: ignore[attr-defined]
    async with aiohttp.ClientSession(headers={"Authorization": auth}) as http, http.get(
            f"{settings.ari_base}/recordings/stored/{name}/file") as resp:
        assert resp.status == 200, await resp.text()
        data = await resp.read()
    await ari.request("DELETE", f"/recordings/stored/{name}", gone_ok=True)
    with wave.open(io.BytesIO(data)) as wav:
        return array.array("h", wav.readframes(wav.getnframes()))
