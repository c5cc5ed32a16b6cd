"""End to end on the real Asterisk: the consultant's browser softphone registers over /ws, a
call placed like `ckm call` goes through the IVR to the queue and rings the softphone, the
screen-pop shows the caller's CRM history before answering, answering gives real audio
(inbound-rtp packets), the consultant files a case and wraps up, and the CRM holds both.

Runs last (file name) and short: it uses the settings' ARI app name, which only one
controller can hold at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page

from ckm.assembly import Center, assemble
from ckm.runner import build_web
from crm_core.db import Database
from crm_core.errors import NotFound
from crm_core.services import cases, interactions, residents
from cti import events as ce
from ground.bus import EventBus
from ground.settings import Settings
from pbx.caller import CallPlan, place_call
from pbx.controller import Controller
from pbx.crm_lookup import CrmLookup
from tests.desktop.live import free_port, login, seeded_crm, shot
from tests.polling import wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]


@pytest.fixture
async def center(asterisk: Any, settings: Settings, tmp_path: Path
                 ) -> AsyncIterator[tuple[Center, str]]:
    template = seeded_crm(tmp_path)
    local = replace(settings, data_dir=tmp_path, database_url=f"sqlite:///{template}")
    bus = EventBus()
    center = await assemble(local, bus, speech=False)
    center.controller = Controller(
        local, bus, ari=center.ari, library=center.library,
        prompts=center.prompts, lookup=CrmLookup(center.db),
        router=center.router)
    await center.controller.start()
    assert await center.controller.ari.wait_connected(5)
    runner = web.AppRunner(build_web(center), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield center, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await center.close()


async def test_softphone_call_screen_pop_audio_case_and_wrap_up(
        center: tuple[Center, str], settings: Settings, page: Page) -> None:
    c, base = center
    db: Database = c.db
    resident = residents.create_resident(db, phones=["+48600100200"], name="Anna Nowak")
    earlier = cases.create_case(db, cases.NewCase(
        category="waste", subcategory="waste.illegal_dump", description="Gruz w lesie",
        address="Lasek Bielański", district="Bielany", resident_id=resident.id),
        by=cases.Actor("portal")).case

    await login(page, base, "konsultant3")  # extension 1003: other sessions rarely register it
    await page.click("#btn-phone")
    await page.wait_for_selector("#sip-state:text-is('registered')", timeout=15000)
    await page.click("#btn-agent-login")
    await page.wait_for_selector("#agent-state.state-available")

    # Zeros take the caller from the first menu that listens to the consultants' queue.
    plan = CallPlan.from_args(number="19115", caller_id="+48600100200", name="Anna Nowak",
                              dtmf="w6,0,w2,0,w2,0,w2,0,w2,0,w2,0", say=[],
                              hangup_after=90, wait_answer=10)
    call = asyncio.create_task(place_call(settings, plan))
    try:
        await page.wait_for_selector("#call-phase.phase-ringing", timeout=40000)
        # The history is on screen while the phone still rings.
        await page.wait_for_selector(f"#pop-cases li:has-text('{earlier.number}')")
        assert await page.text_content("#pop-name") == "Anna Nowak"
        await page.wait_for_selector("#btn-answer:not([disabled])")
        assert "phase-ringing" in (await page.get_attribute("#call-phase", "class") or "")
        await shot(page, "e2e-ringing")
        await page.keyboard.press("Alt+a")
        await page.wait_for_selector("#call-phase.phase-connected", timeout=10000)
        await page.wait_for_selector("#media-state:text-is('connected')", timeout=10000)
        # The scripted caller is silent once bridged (Asterisk sends no RTP for silence), so
        # the caller "speaks" a tone into the call's bridge, as a resident's voice would.
        ari = c.ari
        bridge = next(b["id"] for b in await ari.bridges() if b["id"].startswith("ckm-call-"))
        await ari.request("POST", f"/bridges/{bridge}/play", {"media": "tone:440/3000"})

        async def packets_in() -> int:
            return int(await page.text_content("#rtp-in") or "0")

        await wait_until("inbound RTP (the call connected: audio must arrive)", packets_in, 10.0,
                         every_s=0.3)

        await page.select_option("#case-category", "roads.pothole")
        await page.select_option("#case-district", "Mokotów")
        await page.wait_for_selector("#case-department:has-text('ZDM')")
        await page.fill("#case-address", "Puławska 1")
        await page.fill("#case-description", "Dziura w jezdni na przejściu")
        await page.click("#case-save")
        await page.wait_for_selector("#case-result:has-text('Zapisano zgłoszenie')")
        await shot(page, "e2e-connected-case")

        await page.keyboard.press("Alt+x")  # hang up, as a CTI command
        await page.wait_for_selector("#agent-state.state-wrap_up", timeout=10000)
        await page.select_option("#wrapup-disposition", "case_created")
        await page.fill("#wrapup-notes", "Przyjęto zgłoszenie dziury")
        await page.click("#btn-wrapup")
        await page.wait_for_selector("#agent-state.state-available")
        await page.wait_for_selector("#notice:has-text('case_created')", timeout=10000)
        assert "error" not in (await page.get_attribute("#notice", "class") or "")
        summary = await asyncio.wait_for(call, 30)
    finally:
        if not call.done():
            call.cancel()

    newest = cases.list_cases(db)[0]
    assert (newest.department, newest.resident_id) == ("ZDM", resident.id)
    call_id = summary.callee_channel

    async def dispositioned() -> interactions.InteractionView | None:
        await c.bus.drain()  # the outbox writes the interaction shortly after the events
        try:
            view = interactions.get_call(db, call_id)
        except NotFound:
            return None
        return view if view.disposition_code == "case_created" else None

    view = await wait_until("the CRM's interaction for the call, with its disposition",
                            dispositioned, 10.0, every_s=0.2)
    assert (view.agent_username, view.disposition_code) == ("konsultant3", "case_created")
    assert view.notes == "Przyjęto zgłoszenie dziury"


async def test_notes_typed_long_after_the_hang_up_are_kept(
        center: tuple[Center, str], settings: Settings, page: Page) -> None:
    """A consultant answers in the softphone, the resident hangs up, the consultant types notes
    for half a minute — longer than the queue's wrap-up time. The timer frees them for the next
    call, but the pop stays and the notes and disposition still reach the CRM."""
    c, base = center
    db: Database = c.db
    board = c.switchboard
    board.feed(ce.QueueConfigured(board.now(), replace(board.acd.queues["ogolna"], wrapup_s=8.0)))
    await login(page, base, "konsultant3")
    await page.click("#btn-phone")
    await page.wait_for_selector("#sip-state:text-is('registered')", timeout=15000)
    await page.click("#btn-agent-login")
    await page.wait_for_selector("#agent-state.state-available")
    plan = CallPlan.from_args(number="19115", caller_id="+48600100299", name="Piotr Zieliński",
                              dtmf="w6,0,w2,0,w2,0,w2,0,w2,0,w2,0", say=[],
                              hangup_after=90, wait_answer=10)
    call = asyncio.create_task(place_call(settings, plan))
    try:
        await page.wait_for_selector("#btn-answer:not([disabled])", timeout=40000)
        await page.keyboard.press("Alt+a")
        await page.wait_for_selector("#call-phase.phase-connected", timeout=10000)
        ari = c.ari
        bridge = next(b["id"] for b in await ari.bridges() if b["id"].startswith("ckm-call-"))
        call_id = bridge.removeprefix("ckm-call-")
        await ari.hangup(call_id)  # the resident hangs up
        await page.wait_for_selector("#agent-state.state-wrap_up", timeout=10000)
        await page.select_option("#wrapup-disposition", "info_given")
        await page.fill("#wrapup-notes", "Pytał o odbiór gabarytów; ")
        # The consultant goes on typing for half a minute (the wait is the behaviour).
        await asyncio.sleep(30)
        await page.type("#wrapup-notes", "termin podany.")
        # The timer has ended the wrap-up state, not the work.
        await page.wait_for_selector("#agent-state.state-available")
        assert "active" in (await page.get_attribute("#screen-pop", "class") or "")
        assert await page.is_enabled("#btn-wrapup")
        assert await page.text_content("#pop-name") == "Piotr Zieliński"
        await shot(page, "e2e-late-wrap-up")
        await page.click("#btn-wrapup")
        await page.wait_for_selector("#notice:has-text('info_given')", timeout=10000)
        assert "error" not in (await page.get_attribute("#notice", "class") or "")
        await page.wait_for_selector("#call-phase:text-is('Brak połączenia')")
    finally:
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
    view = interactions.get_call(db, call_id)
    assert (view.agent_username, view.disposition_code) == ("konsultant3", "info_given")
    assert view.notes == "Pytał o odbiór gabarytów; termin podany."
