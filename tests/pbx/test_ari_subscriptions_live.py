"""An ARI client that watches every call (the scripted caller, a test's observer) gets the events
of channels it did not originate, and is never subscribed to device states: Asterisk 22.10
deadlocks when such an app's websocket closes while device states change (pbx.ari_client's
Rules), which left the sandbox accepting no websocket at all for every later test."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ground.settings import Settings
from pbx import ari_events as ev
from pbx.ari_client import POOL_SIZE, AriClient, new_id
from tests.polling import wait_until

pytestmark = pytest.mark.asterisk


async def test_watching_all_calls_sees_other_apps_channels_and_no_device_state(
    asterisk: Any, settings: Settings
) -> None:
    watcher = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                        f"{settings.ari_app}-watch-{new_id('w')[-6:]}", subscribe_all=True)
    other = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                      f"{settings.ari_app}-other-{new_id('o')[-6:]}")
    seen: list[ev.AriEvent] = []

    async def collect(event: ev.AriEvent) -> None:
        seen.append(event)

    watcher.on_event(collect)
    await watcher.start()
    await other.start()
    channel = new_id("watched")
    try:
        assert await watcher.wait_connected(10), watcher.last_error
        assert await other.wait_connected(10), other.last_error
        app = await watcher.request("GET", f"/applications/{watcher.app}")
        assert app["device_names"] == [] and app["endpoint_ids"] == [], app
        assert app["channel_ids"] and app["bridge_ids"], app  # all channels and bridges

        # A call the watcher has nothing to do with: another app's Local channel into the
        # benchmark's dialplan (answers, beeps, hangs up).
        ended = other.expect("StasisEnd", channel)
        await other.originate("Local/native@ckm-bench", channel_id=channel, app=other.app)
        await asyncio.wait_for(ended, 20)
        await wait_until("the watcher to see the other app's channel go",
                         lambda: any(isinstance(e, ev.ChannelDestroyed) and e.channel is not None
                                     and e.channel.id == channel for e in seen), timeout_s=10)
    finally:
        await other.hangup(channel)
        await other.stop()
        await watcher.stop()


async def test_a_warm_pool_is_opened_on_connect_and_a_burst_opens_no_connection(
    asterisk: Any, settings: Settings
) -> None:
    """The center's client opens its whole connection pool ahead of calls (Asterisk's HTTP
    server listens with a backlog of 10: a burst of new connections loses handshakes for a
    second), so a burst of requests as large as the pool finds every connection open."""
    client = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                       f"{settings.ari_app}-pool-{new_id('p')[-6:]}", warm_pool=True)
    await client.start()
    try:
        assert await client.wait_connected(10), client.last_error
        await client.pool_opened()
        assert client.connections_opened == POOL_SIZE
        await asyncio.gather(*(client.ping(5.0) for _ in range(POOL_SIZE)))
        assert client.connections_opened == POOL_SIZE, "the burst opened new connections"
    finally:
        await client.stop()
