"""Polish speech through a real call: the resident's audio leaves Asterisk by externalMedia,
Whisper base (out of the box for Polish) decides among the menu's choices, and the call
reaches the right queue.

The resident speaks like a person does: once the menu has been read out; the category as a
sentence with the key word inflected in it ("autobusy"), not as a menu word.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ckm.assembly import Center, assemble
from ground import events as domain
from ground.bus import EventBus
from ground.settings import Settings
from ivr.commands import PromptRef
from pbx.caller import CallPlan, SayStep, place_call
from pbx.controller import Controller
from tests.polling import wait_until

pytestmark = pytest.mark.asterisk


MAIN_MENU_SENTENCE = "problem"
CATEGORY_SENTENCE = "autobusy znowu się spóźniają"  # "autobus" inflected, inside a sentence


def speak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-v", "pl", "-s", "150", "-w", str(path), text], check=True,
                   capture_output=True)
    return path


def prompt_key(center: Center, node: str) -> str:
    library = center.library
    script = library.current("19115")
    text = script.node(node).prompt.text_for("pl", "pl")
    uri = center.prompts.media_for(PromptRef(node, text, "pl", script.voice("pl")))
    assert uri is not None
    return str(uri).rsplit("/", 1)[1]


@pytest_asyncio.fixture
async def center(asterisk: Any, settings: Settings, tmp_path: Path
                 ) -> AsyncIterator[tuple[Center, list[domain.DomainEvent]]]:
    local = replace(settings, data_dir=tmp_path)
    bus = EventBus()
    seen: list[domain.DomainEvent] = []

    async def record(event: Any) -> None:
        seen.append(event)

    bus.subscribe("test", record)
    center = await assemble(local, bus, crm=False, acd=False)
    assert center.speech is not None, "speech models did not load"
    center.controller = Controller(
        local, bus, ari=center.ari, library=center.library,
        prompts=center.prompts, speech=center.speech)
    await center.controller.start()
    assert await center.controller.ari.wait_connected(5)
    yield center, seen
    await center.close()


async def test_a_resident_saying_sentences_reaches_the_transport_queue(
        center: tuple[Center, list[domain.DomainEvent]], settings: Settings,
        tmp_path: Path) -> None:
    c, seen = center
    plan = CallPlan(hangup_after=150, say=(
        SayStep(speak(MAIN_MENU_SENTENCE, tmp_path / "a.wav"),
                after_media=prompt_key(c, "main_menu")),
        SayStep(speak(CATEGORY_SENTENCE, tmp_path / "b.wav"),
                after_media=prompt_key(c, "category_menu")),
    ))
    call = asyncio.create_task(place_call(settings, plan))
    with contextlib.suppress(AssertionError):  # the assertions below say what happened
        await wait_until("the call to be queued",
                         lambda: any(isinstance(e, domain.CallQueued) for e in seen), 150)
    queued = [e for e in seen if isinstance(e, domain.CallQueued)]
    steps = [(e.node, e.input_kind, e.input_value, e.confidence) for e in seen
             if isinstance(e, domain.IvrStep)]
    assert queued and queued[0].queue == "transport", steps
    speech = [s for s in steps if s[1] == "speech"]
    assert [s[0] for s in speech] == ["main_menu", "category_menu"], steps
    threshold = c.library.current("19115").confidence_threshold
    assert all(s[3] is not None and s[3] >= threshold for s in speech), steps
    # The resident hangs up while waiting; nothing of the call may stay in Asterisk.
    await c.controller.ari.hangup(queued[0].call_id)
    summary = await asyncio.wait_for(call, 30)
    assert summary.ended_by == "center"
    ari = c.controller.ari
    async def no_queue_bridge() -> bool:
        return not [b for b in await ari.bridges() if b["id"].startswith("ckm-queue-")]

    await wait_until("no queue bridge to be left", no_queue_bridge, 5, every_s=0.1)
