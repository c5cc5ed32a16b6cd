"""Publishing a new menu while calls are up: the next call follows it, the call in progress
keeps the version it started with. Real Asterisk, real controller, the same `ScriptLibrary`
the IVR editor publishes through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ground import events as domain
from ground.bus import EventBus
from ground.settings import Settings
from ivr.commands import PromptRef
from pbx.caller import CallPlan, place_call
from pbx.controller import Controller
from pbx.prompts import PromptStage
from pbx.script_library import SCRIPTS_DIR, ScriptLibrary
from tests.polling import wait_until

pytestmark = pytest.mark.asterisk

NEW_GREETING = "Witamy w nowej wersji menu dziewiętnaście sto piętnaście."


async def test_next_call_follows_a_published_menu_while_the_call_in_progress_keeps_its_own(
        asterisk: Any, settings: Settings, prompts: PromptStage) -> None:
    library = ScriptLibrary()
    library.load_dir()
    old = library.current("19115")
    old_greeting = old.node(old.start).prompt.text_for("pl", "pl")  # type: ignore[union-attr]
    bus = EventBus()
    steps: list[domain.IvrStep] = []
    started: list[domain.CallStarted] = []

    async def record(event: Any) -> None:
        if isinstance(event, domain.IvrStep):
            steps.append(event)
        elif isinstance(event, domain.CallStarted):
            started.append(event)

    bus.subscribe("test", record)
    controller = Controller(settings, bus, library=library, prompts=prompts)
    await controller.start()
    assert await controller.ari.wait_connected(5)
    try:
        in_progress = asyncio.create_task(place_call(settings, CallPlan(hangup_after=16)))
        await wait_until("the first call to reach the controller", lambda: started, 10)
        text = (SCRIPTS_DIR / "19115.yaml").read_text(encoding="utf-8")
        assert old_greeting in text
        edited = text.replace(old_greeting, NEW_GREETING).replace(
            f'version: "{old.version}"', 'version: "published-in-test"')
        new = library.publish_text(edited, "19115.yaml")
        assert new.version == "published-in-test"

        following = await place_call(settings, CallPlan(hangup_after=4))
        first = await in_progress
        await bus.drain()

        new_uri = await prompts.ensure(PromptRef("greeting", NEW_GREETING, "pl", new.voice("pl")))
        old_uri = prompts.media_for(PromptRef("greeting", old_greeting, "pl", old.voice("pl")))
        assert following.prompts_heard[:1] == [new_uri]
        assert first.prompts_heard[:1] == [old_uri]
        # The call in progress went on in its own version after the publish, step after step.
        assert {s.version for s in steps if s.call_id == first.callee_channel} == {old.version}
        assert len([s for s in steps if s.call_id == first.callee_channel]) >= 2, steps
        assert {s.version for s in steps if s.call_id == following.callee_channel} <= {
            "published-in-test"}
    finally:
        await controller.stop()
        await bus.close()
