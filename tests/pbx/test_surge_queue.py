"""A surge into a queue: every resident is served, told "busy", or recorded as having given up.

The center may carry four calls (`max_calls`); two consultants are signed in; eight residents
call 19115 half a second apart, each pressing 0 (a consultant) until a menu takes it, and
hanging up after 30 s. The first four reach the IVR and then the queue. The ones who call
into the surge hear the short "all lines are busy" script (they too may insist on a
consultant with 0, and do). Two residents are served; the others give up in line or after the
busy message. No caller is unaccounted for: each one is in
the CRM, ended, and either talked to a consultant, heard the busy message, or is recorded as
having hung up while waiting in line.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crm_core.errors import NotFound
from crm_core.services import interactions
from ground import events as domain
from ground.settings import Settings
from ivr.commands import PromptRef
from pbx.caller import CallPlan, place_call

from .audio_taps import until
from .live_center import live_center, log_in, set_wrapup

pytestmark = pytest.mark.asterisk

AGENT = "Local/answer@ckm-test-agents"
RESIDENTS = 8


def resident(n: int) -> CallPlan:
    return CallPlan.from_args(number="19115", caller_id=f"+4860010060{n}",
                              name=f"Mieszkaniec {n}",
                              dtmf="w6," + ",".join(["0,w1.5"] * 12).rstrip(",w1.5"), say=[],
                              hangup_after=30, wait_answer=10)


async def test_no_caller_of_a_surge_is_unaccounted_for(
        asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    async with live_center(replace(settings, max_calls=4), tmp_path) as (center, recorder):
        controller = center.controller
        assert controller is not None
        set_wrapup(center, "ogolna", 1.0)
        await log_in(center, "konsultant1", AGENT)
        await log_in(center, "konsultant2", AGENT)
        calls = []
        for n in range(RESIDENTS):
            calls.append(asyncio.create_task(place_call(settings, resident(n))))
            await asyncio.sleep(0.5)  # the surge's pace: a resident every half second
        summaries = await asyncio.gather(*calls)
        assert all(s.answered for s in summaries), [s.ended_by for s in summaries]
        ids = [s.callee_channel for s in summaries]
        db = center.db

        async def all_ended() -> Any:
            await center.bus.drain()
            views = []
            for call_id in ids:
                try:
                    view = await asyncio.to_thread(interactions.get_call, db, call_id)
                except NotFound:
                    return None
                views.append(view)
            return views if all(v.ended_at is not None for v in views) else None

        views = await until("every call of the surge to be recorded as ended", all_ended, 30)

        shed = {e.call_id for e in recorder.of(domain.IvrStep) if e.script == "overload"}
        served = {e.call_id for e in recorder.of(domain.AgentConnected)}
        gave_up = {v.call_id for v in views
                   if v.queue is not None and v.agent_username is None
                   and v.end_reason == "caller_hangup_in_queue"}
        outcome = {i: ("served" if i in served else "busy" if i in shed
                       else "gave up in line" if i in gave_up else "UNACCOUNTED") for i in ids}
        assert "UNACCOUNTED" not in outcome.values(), (
            outcome, [(v.call_id, v.queue, v.end_reason, v.agent_username) for v in views])
        assert [v.caller_number for v in views] == [f"+4860010060{n}" for n in range(RESIDENTS)]
        # The first four were taken into the IVR; the surge after them was told the lines are
        # busy (whoever insisted with 0 went in line: the first in line met the two
        # consultants, who stay on the line until their resident hangs up).
        assert shed == set(ids[4:]), outcome
        assert len(served) == 2, outcome
        assert controller.stats.calls_shed == len(shed)
        # The served ones are recorded with their consultant.
        assert {v.agent_username for v in views if v.call_id in served} == {
            "konsultant1", "konsultant2"}

        # Each of the shed residents heard the busy message (what their phone was played).
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
        # Nothing of the surge is left in Asterisk.
        ari = center.ari
        assert ari is not None

        async def nothing_left() -> bool:
            channels = {c["id"] for c in await ari.channels()}
            bridges = {b["id"] for b in await ari.bridges()}
            return not (channels & set(ids)) and not any(
                f"ckm-call-{i}" in bridges for i in ids)

        await until("the surge's channels and bridges to be gone", nothing_left, 15)
