"""Fixtures of the live pbx tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ground.settings import Settings
from pbx.ari_client import AriClient

from .live_center import PLACED, resident_phone


@pytest_asyncio.fixture
async def phone(settings: Settings) -> AsyncIterator[AriClient]:
    """The resident's phone (see live_center.resident_phone); hangs up what it placed."""
    ari = await resident_phone(settings)
    try:
        yield ari
    finally:
        for ch in await ari.channels():
            if ch["id"] in PLACED:
                await ari.hangup(ch["id"])
        await ari.stop()
