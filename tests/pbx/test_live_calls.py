"""Calls through the real Asterisk 22 (the sandbox) into the controller.

A scripted resident (`pbx.caller`, the engine of `ckm call`) dials each form of 19115 through
the [inbound] dialplan; the controller runs in this test's event loop and publishes domain
events on a bus the test reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from ground import events as domain
from ground.bus import EventBus
from ground.settings import Settings
from ivr.commands import PromptRef
from pbx.ari_client import AriClient
from pbx.asterisk_config import NUMBERS_19115
from pbx.caller import CallPlan, DtmfStep, place_call
from pbx.controller import Controller
from pbx.prompts import PromptStage
from pbx.script_library import ScriptLibrary
from tests.polling import wait_until

pytestmark = pytest.mark.asterisk


class Recorder:
    def __init__(self) -> None:
        self.events: list[domain.DomainEvent] = []

    async def __call__(self, event: Any) -> None:
        self.events.append(event)

    def of(self, call_id: str, kind: type[domain.DomainEvent]) -> list[Any]:
        return [e for e in self.events if e.call_id == call_id and isinstance(e, kind)]


def greeting_uri(library: ScriptLibrary, prompts: PromptStage) -> str:
    script = library.current("19115")
    text = script.node(script.start).prompt.text_for("pl", "pl")  # type: ignore[union-attr]
    uri = prompts.media_for(PromptRef("greeting", text, "pl", script.voice("pl")))
    assert uri is not None
    return uri


@pytest_asyncio.fixture
async def center(asterisk: Any, settings: Settings, library: ScriptLibrary,
                 prompts: PromptStage) -> AsyncIterator[tuple[Controller, Recorder]]:
    bus = EventBus()
    recorder = Recorder()
    bus.subscribe("test", recorder)
    controller = Controller(settings, bus, library=library, prompts=prompts)
    await controller.start()
    assert await controller.ari.wait_connected(5), controller.ari.last_error
    yield controller, recorder
    await controller.stop()
    await bus.close()


@pytest.mark.parametrize("number", NUMBERS_19115)
async def test_every_form_of_19115_is_answered_and_hears_the_greeting(
        center: tuple[Controller, Recorder], settings: Settings, number: str,
        library: ScriptLibrary, prompts: PromptStage) -> None:
    _, recorder = center
    summary = await place_call(settings, CallPlan(number=number, hangup_after=2.5))
    assert summary.answered, summary
    assert summary.prompts_heard[:1] == [greeting_uri(library, prompts)]
    assert summary.ended_by == "caller"
    await wait_until("the call's end to be published",
                     lambda: recorder.of(summary.callee_channel, domain.CallEnded), 10)
    started = recorder.of(summary.callee_channel, domain.CallStarted)
    assert [e.dialed for e in started] == [number]
    assert recorder.of(summary.callee_channel, domain.CallAnswered)
    assert [e.reason for e in recorder.of(summary.callee_channel, domain.CallEnded)] == [
        "caller_hangup"]


async def test_dtmf_and_caller_id_reach_the_session(
        center: tuple[Controller, Recorder], settings: Settings) -> None:
    _, recorder = center
    # The keys reach the IVR ~1.5-2.1 s after the answer; "1" skips the greeting and the
    # 112 notice (2.5 s, no skipping) follows: the resident hangs up during it, before the
    # keys typed ahead ("2#") can answer the menus after it. At 4 s the notice's end and the
    # hang-up came within a millisecond of each other, and the call was queued or not by
    # that race.
    plan = CallPlan(caller_id="+48600100200", name="Jan Kowalski", hangup_after=3.0,
                    dtmf=(DtmfStep(0.3, "1"), DtmfStep(0.3, "2"), DtmfStep(0.3, "#")))
    summary = await place_call(settings, plan)
    assert summary.dtmf_sent == ["1", "2", "#"]
    call = summary.callee_channel
    await wait_until("the call's end to be published",
                     lambda: recorder.of(call, domain.CallEnded), 10)
    assert [e.digit for e in recorder.of(call, domain.DtmfReceived)] == ["1", "2", "#"]
    started = recorder.of(call, domain.CallStarted)[0]
    assert (started.caller_number, started.caller_name) == ("+48600100200", "Jan Kowalski")
    assert summary.ended_by == "caller"
    assert [e.reason for e in recorder.of(call, domain.CallEnded)] == ["caller_hangup"]


async def test_the_answer_is_the_calls_first_request_and_is_sent_once(
        center: tuple[Controller, Recorder], settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The controller sends a new call's answer as it reads the StasisStart, and the session's
    Answer command waits for that request rather than sending a second one."""
    controller, recorder = center
    sent: list[tuple[str, str]] = []
    request = controller.ari.request

    async def watched(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        sent.append((method, path))
        return await request(method, path, *args, **kwargs)

    monkeypatch.setattr(controller.ari, "request", watched)
    summary = await place_call(settings, CallPlan(hangup_after=2.5))
    assert summary.answered and summary.prompts_heard, summary
    call = summary.callee_channel
    await wait_until("the call's end to be published",
                     lambda: recorder.of(call, domain.CallEnded), 10)
    mine = [(m, p) for m, p in sent if p.startswith(f"/channels/{call}")]
    assert mine[0] == ("POST", f"/channels/{call}/answer"), mine
    assert mine.count(("POST", f"/channels/{call}/answer")) == 1, mine
    assert recorder.of(call, domain.CallAnswered)
    traced = [t for t in controller.stats.answer_trace if t[0] == call]
    assert len(traced) == 1, controller.stats.answer_trace
    _, stamped, handled, acknowledged = traced[0]
    assert stamped - 0.002 <= handled <= acknowledged, traced  # Asterisk stamps in ms


async def test_without_hangup_after_the_resident_hangs_up_a_margin_after_its_last_key(
        center: tuple[Controller, Recorder], settings: Settings) -> None:
    # The README's call used to hang up 8 s after the answer, before its first key (at 15 s).
    plan = CallPlan(dtmf=(DtmfStep(2.0, "5"),), linger_s=2.0)
    summary = await place_call(settings, plan)
    assert summary.dtmf_sent == ["5"] and summary.ended_by == "caller"
    assert 1.0 + 2.0 + 2.0 <= summary.duration_s < 8.0, summary.duration_s
    heard = summary.prompts[0]
    assert (heard.prompt, heard.language) == ("greeting.prompt.pl", "pl"), summary.prompts
    assert heard.text.startswith("Dzień dobry")


async def test_dropped_events_socket_reconnects_resyncs_and_the_call_ends_normally(
        center: tuple[Controller, Recorder], settings: Settings) -> None:
    controller, recorder = center
    before = set(controller.calls)
    call_task = asyncio.create_task(place_call(settings, CallPlan(hangup_after=9)))
    # This call, answered: a call left over by an earlier test does not count.
    await wait_until("the call to reach the controller and be answered", lambda: any(
        c.startswith("resident-in-") and h.session.answered_at is not None
        for c, h in controller.calls.items() if c not in before), 5)
    connects, resyncs = controller.ari.connects, controller.stats.resyncs
    loop = asyncio.get_running_loop()
    dropped_at = loop.time()
    await controller.ari.drop_connection()
    await wait_until("the controller to reconnect and resync",
                     lambda: controller.stats.resyncs != resyncs, 5, every_s=0.01)
    recovered_in = loop.time() - dropped_at
    assert controller.ari.connects == connects + 1
    assert recovered_in < 2.0, f"reconnect + resync took {recovered_in:.2f} s"
    summary = await call_task
    # The IVR went on after the reconnect: the emergency notice follows the greeting.
    assert len(summary.prompts_heard) >= 2, summary.prompts_heard
    assert summary.answered and summary.ended_by == "caller"
    await wait_until("the call's end to be published",
                     lambda: recorder.of(summary.callee_channel, domain.CallEnded), 10)
    assert [e.reason for e in recorder.of(summary.callee_channel, domain.CallEnded)] == [
        "caller_hangup"]


async def test_wrong_ari_password_gives_a_clear_message_and_keeps_retrying(
        asterisk: Any, settings: Settings) -> None:
    client = AriClient(settings.ari_base, settings.ari_user, "not-the-password", "ckm-wrongpw")
    await client.start()
    await wait_until("the refusal to be reported",
                     lambda: "refused user/password (401)" in client.last_error, 5)
    assert not client.connected.is_set()
    assert client._run_task is not None and not client._run_task.done()  # still retrying
    await client.stop()


async def test_unreachable_ari_gives_a_clear_message_and_keeps_retrying() -> None:
    client = AriClient("http://127.0.0.1:9/ari", "ckm", "x", "ckm-nowhere")
    await client.start()
    await wait_until("the unreachable ARI to be reported",
                     lambda: "unreachable" in client.last_error, 5)
    assert client._run_task is not None and not client._run_task.done()
    await client.stop()
