"""A surge past what the center may take: new callers hear the busy message, nobody is lost.

The center is told it may carry two calls (`max_calls`); four residents call within a second
or two, on the real Asterisk. The first two reach the 19115 IVR; the others are answered with
the short "all lines are busy" script (a callback offered, the portal named) instead of being
taken into the IVR and the queues. Every call is in the CRM, answered and ended.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crm_core.services import interactions
from ground import events as domain
from ground.settings import Settings
from ivr.commands import PromptRef
from pbx.caller import CallPlan, place_call

from .audio_taps import until
from .live_center import live_center

pytestmark = pytest.mark.asterisk


async def test_a_surge_past_max_calls_is_answered_with_the_busy_message(
        asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    async with live_center(replace(settings, max_calls=2), tmp_path) as (center, recorder):
        controller = center.controller
        assert controller is not None
        calls = []
        for n in range(4):
            plan = CallPlan.from_args(number="19115", caller_id=f"+4860010050{n}",
                                      name="Mieszkaniec", dtmf="", say=[], hangup_after=12,
                                      wait_answer=10)
            calls.append(asyncio.create_task(place_call(settings, plan)))
            await asyncio.sleep(0.4)  # the surge's pace: four residents within two seconds
        summaries = await asyncio.gather(*calls)
        assert all(s.answered for s in summaries), [s.ended_by for s in summaries]
        await center.bus.drain()
        scripts: dict[str, set[str]] = {}
        for step in recorder.of(domain.IvrStep):
            scripts.setdefault(step.call_id, set()).add(step.script)
        ids = [s.callee_channel for s in summaries]
        assert [sorted(scripts.get(i, set())) for i in ids[:2]] == [["19115"], ["19115"]]
        shed = [i for i in ids if scripts.get(i) == {"overload"}]
        assert len(shed) >= 1, scripts
        assert controller.stats.calls_shed == len(shed)
        health = controller.health()
        assert "calls in progress" in str(health["overload_reason"])
        # Each of them heard the busy message (what their phone was played, by media).
        script = center.library.current("overload")
        busy = script.node("busy").prompt
        assert busy is not None
        uri = center.prompts.media_for(PromptRef(
            "busy.prompt.pl", busy.text_for("pl", "pl"), "pl", script.voice("pl")))
        assert uri is not None
        for summary in summaries:
            if summary.callee_channel in shed:
                assert any(uri.rsplit("/", 1)[-1] in str(p) for p in summary.prompts_heard), (
                    summary.prompts_heard)
        # No caller unaccounted for: every call started, was answered and ended in the CRM.
        db = center.db

        async def all_recorded() -> Any:
            await center.bus.drain()
            views = [await asyncio.to_thread(interactions.get_call, db, i) for i in ids]
            return views if all(v.ended_at is not None for v in views) else None

        views = await until("every call to be recorded as ended", all_recorded, 20)
        assert all(v.answered_at is not None for v in views)
        assert [v.caller_number for v in views] == [f"+4860010050{n}" for n in range(4)]
