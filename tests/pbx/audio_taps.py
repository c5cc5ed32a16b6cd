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


async def until(what: str, probe: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    for _ in range(int(timeout / 0.1)):
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


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
    await asyncio.sleep(seconds)
    await ari.hangup(tap)
    await asyncio.sleep(0.5)
    samples = await stored_recording(ari, settings, name)
    assert len(samples) > 8000, "the recording is shorter than a second"
    return samples


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
