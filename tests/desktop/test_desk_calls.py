"""The consultant desk driven by the real switchboard: state buttons, screen-pop with CRM
history before answering, call control as CTI commands, wrap-up, callbacks, KB — and caller
data that tries to be markup.

The pbx side is a recording command sink (the pbx adapter's place): it lets the test play the
phone network (agent answered, caller hung up) while everything the browser does is real.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Page

from crm_core.services import cases, interactions, residents
from cti import commands as cmd
from cti import events as ev
from cti.config import CallContext, Caller
from ground import events as domain
from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = "<script>alert('xss')</script> dziura"


class RecordingPbx:
    def __init__(self) -> None:
        self.commands: list[cmd.Command] = []

    def execute(self, command: cmd.Command) -> None:
        self.commands.append(command)

    def last(self, kind: type[cmd.Command]) -> cmd.Command:
        return next(c for c in reversed(self.commands) if isinstance(c, kind))


def now() -> datetime:
    return datetime.now(UTC)


async def ready_consultant(desk: LiveDesk, page: Page) -> None:
    await login(page, desk.url, "konsultant1")
    await page.wait_for_selector("#cti-state.ok")
    await page.click("#btn-agent-login")
    await page.wait_for_selector("#agent-state.state-paused, #agent-state.state-available")
    await page.click("#btn-pause")
    await page.wait_for_selector("#agent-state.state-paused")
    await page.keyboard.press("Alt+r")  # ready
    await page.wait_for_selector("#agent-state.state-available")
    assert await page.text_content("#notice") == ""


async def test_screen_pop_before_answer_then_hold_hangup_and_wrap_up(
        desk: LiveDesk, page: Page) -> None:
    pbx = RecordingPbx()
    desk.board.attach_pbx(pbx)
    resident = residents.create_resident(desk.db, phones=["+48600100200"], name=HOSTILE_NAME)
    old = cases.create_case(desk.db, cases.NewCase(
        category="roads", subcategory="roads.pothole", description=HOSTILE_TEXT,
        address="Puławska 10", district="Mokotów", resident_id=resident.id),
        by=cases.Actor("test")).case
    # What the pbx side records through the outbox when a call starts.
    interactions.record_event(desk.db, domain.CallStarted(
        "call-1", now(), "+48600100200", HOSTILE_NAME, "19115", "PJSIP/trunk-1"))
    await ready_consultant(desk, page)

    desk.board.feed(ev.CallEnqueued(now(), "call-1", "transport",
                                    Caller("+48600100200", HOSTILE_NAME),
                                    context=CallContext(("greeting", "main_menu", "transport"),
                                                        "transport.delay", HOSTILE_TEXT)))
    # The pop shows up while it rings, with the CRM history, before anyone answers.
    await page.wait_for_selector("#call-phase.phase-ringing")
    await page.wait_for_selector(f"#pop-cases li:has-text('{old.number}')")
    assert await page.text_content("#pop-name") == HOSTILE_NAME
    assert await page.text_content("#pop-number") == "+48600100200"
    assert await page.text_content("#pop-path") == "greeting → main_menu → transport"
    assert await page.text_content("#pop-transcript") == HOSTILE_TEXT
    assert await page.locator("#screen-pop img").count() == 0
    assert await page.locator("#screen-pop script").count() == 0
    assert await page.input_value("#case-category") == "transport.delay"  # pre-filled from IVR
    await shot(page, "desk-ringing-hostile")

    ring = pbx.last(cmd.RingAgent)
    assert isinstance(ring, cmd.RingAgent)
    desk.board.feed(ev.AgentAnswered(now(), "call-1", "konsultant1", ring.offer))
    await page.wait_for_selector("#call-phase.phase-connected")
    await page.keyboard.press("Alt+h")  # hold, as a CTI command
    await page.wait_for_selector("#call-phase.phase-held")
    assert isinstance(pbx.commands[-1], cmd.HoldCall)
    assert await page.text_content("#btn-hold") == "Wznów"
    await page.click("#btn-hold")
    await page.wait_for_selector("#call-phase.phase-connected")
    await page.click("#btn-hangup")
    await page.wait_for_selector("#agent-state.state-wrap_up")
    assert any(isinstance(c, cmd.HangupCall) for c in pbx.commands)
    await page.select_option("#wrapup-disposition", "info_given")
    await page.fill("#wrapup-notes", HOSTILE_TEXT)
    await shot(page, "desk-wrap-up")
    await page.click("#btn-wrapup")
    await page.wait_for_selector("#agent-state.state-available")
    assert await page.text_content("#call-phase") == "Brak połączenia"
    await page.wait_for_selector("#notice:has-text('info_given')")
    call = interactions.get_call(desk.db, "call-1")
    assert (call.disposition_code, call.notes) == ("info_given", HOSTILE_TEXT)
    assert page.dialogs == []  # type: ignore[attr-defined]


async def test_transfer_callbacks_and_knowledge_base(desk: LiveDesk, page: Page) -> None:
    pbx = RecordingPbx()
    desk.board.attach_pbx(pbx)
    await ready_consultant(desk, page)
    desk.board.feed(ev.CallEnqueued(now(), "call-2", "transport", Caller("+48221112233", "Jan")))
    await page.wait_for_selector("#call-phase.phase-ringing")
    ring = pbx.last(cmd.RingAgent)
    assert isinstance(ring, cmd.RingAgent)
    desk.board.feed(ev.AgentAnswered(now(), "call-2", "konsultant1", ring.offer))
    await page.wait_for_selector("#call-phase.phase-connected")

    # Attended transfer to a colleague: the caller waits on hold; then back to the caller.
    seat = await desk.board.directory.seat("konsultant2")
    desk.board.feed(ev.AgentLoggedIn(now(), seat.profile, seat.endpoint))
    await page.select_option("#transfer-kind", "agent")
    await page.fill("#transfer-target", "konsultant2")
    await page.check("#transfer-attended")
    await page.click("#btn-transfer")
    await page.wait_for_selector("#consult:not([hidden]) #consult-target:text-is('konsultant2')")
    await page.wait_for_selector("#call-phase.phase-held")
    assert any(isinstance(c, cmd.StartConsult) for c in pbx.commands)
    await page.click("#btn-consult-complete")  # not answered yet: refused, with the reason
    await page.wait_for_selector("#notice.error:has-text('not answered')")
    await page.click("#btn-consult-cancel")
    await page.wait_for_selector("#consult[hidden]", state="attached")
    assert isinstance(pbx.last(cmd.CancelConsult), cmd.CancelConsult)
    await page.wait_for_selector("#call-phase.phase-connected")

    await page.uncheck("#transfer-attended")
    await page.select_option("#transfer-kind", "queue")
    await page.keyboard.press("Alt+t")
    await page.keyboard.type("czystosc")
    await page.click("#btn-transfer")
    await page.wait_for_selector("#agent-state.state-wrap_up")
    assert "czystosc" in [e.queue for e in desk.board.acd.entries.values()]

    # A callback for a queue this consultant serves shows in the list.
    await page.select_option("#callback-queue", "transport")
    await page.fill("#callback-number", "+48225556677")
    await page.fill("#callback-name", HOSTILE_NAME)
    await page.click("#callback-form button[type=submit]")
    await page.wait_for_selector("#callback-list li:has-text('+48225556677')")
    assert HOSTILE_NAME in (await page.text_content("#callback-list") or "")

    await page.keyboard.press("Alt+k")
    await page.keyboard.type("harmonogram odpadów")
    await page.keyboard.press("Enter")
    await page.click("#kb-hits a >> nth=0")
    await page.wait_for_selector("#kb-article:not([hidden])")
    assert "harmonogram" in (await page.text_content("#kb-body") or "").lower()
    await shot(page, "desk-kb-callbacks")
    assert page.dialogs == []  # type: ignore[attr-defined]
