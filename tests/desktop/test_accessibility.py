"""Issue #14, the staff's side: every page of the desktop, opened in Chromium by a user of the
role it is for, has no serious or critical axe-core violation (nor the issue's missing <h1>,
duplicate landmark, empty table header) and its HTML as served has no Nu checker error. The
desk is also checked paused, with a call ringing (screen-pop with history), the case form
showing its errors, a found case's card and a knowledge-base article open; the wallboard with
an agent in its grid; the IVR editor with a problem in its script. States scripts made are
validated by vnu as Chromium serializes them (`dom`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import APIResponse, Browser, Page, Response

from crm_core.services import cases, residents
from cti import commands as cmd
from cti import events as ev
from cti.config import CallContext, Caller
from cti.crm_link import CrmDirectory
from tests.a11y import Tour, require_tools
from tests.crm.test_reports_calls import DAY, record_day
from tests.desktop.live import PASSWORD, LiveDesk

pytestmark = pytest.mark.browser


class HeldPbx:
    """Takes the switchboard's commands (no telephony here); the test plays the network."""

    def __init__(self) -> None:
        self.commands: list[cmd.Command] = []

    def execute(self, command: cmd.Command) -> None:
        self.commands.append(command)


def now() -> datetime:
    return datetime.now(UTC)


async def source_of(response: Response | APIResponse | None) -> str:
    """The HTML as the server sent it (of a navigation, or of a fetch with the page's cookies)."""
    assert response is not None
    return await response.text()


async def open_as(browser: Browser, desk: LiveDesk, tour: Tour, user: str) -> Page:
    """A fresh browser for `user`, logged in through the form; `axe.min.js` is injected as an
    inline script, so the page's CSP is bypassed for that (it stays sent and checked by vnu
    only as markup)."""
    page = await browser.new_page(bypass_csp=True)
    response = await page.goto(f"{desk.url}/login")
    if "login" not in tour.axe:
        await tour.check(page, "login", await source_of(response))
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.click("#login-submit")
    return page


async def test_every_desktop_page_is_accessible_and_valid(desk: LiveDesk, browser: Browser,
                                                         tmp_path: Path) -> None:
    require_tools()
    tour = Tour(tmp_path)
    pbx = HeldPbx()
    desk.board.attach_pbx(pbx)

    # A failed login shows its message.
    page = await browser.new_page(bypass_csp=True)
    await page.goto(f"{desk.url}/login")
    await page.fill("#username", "konsultant1")
    await page.fill("#password", "not-the-password")
    async with page.expect_navigation() as failed:
        await page.click("#login-submit")
    await page.wait_for_selector("#login-error")
    await tour.check(page, "login-failed", await source_of(await failed.value))
    await page.close()

    # The desk: idle, then a call ringing with the caller's history, the case form's errors,
    # a case found by number, an article of the knowledge base.
    resident = residents.create_resident(desk.db, phones=["+48600100200"], name="Anna Nowak")
    old = cases.create_case(desk.db, cases.NewCase(
        category="roads", subcategory="roads.pothole", description="Dziura przy przejściu",
        address="Puławska 10", district="Mokotów", resident_id=resident.id),
        by=cases.Actor("test")).case
    page = await open_as(browser, desk, tour, "konsultant1")
    await page.wait_for_selector("#cti-state.ok")
    await tour.check(page, "desk", await source_of(await page.request.get(f"{desk.url}/desk")))
    await page.click("#btn-agent-login")
    await page.wait_for_selector("#agent-state.state-paused, #agent-state.state-available")
    if await page.locator("#agent-state.state-available").count():
        await page.click("#btn-pause")
    await page.wait_for_selector("#agent-state.state-paused")
    await tour.check(page, "desk-paused")
    await page.click("#btn-ready")
    await page.wait_for_selector("#agent-state.state-available")
    desk.board.feed(ev.CallEnqueued(now(), "a11y-1", "transport", Caller("+48600100200", "Anna Nowak"),
                                    context=CallContext(("greeting", "main_menu", "transport"),
                                                        "transport.delay", "autobus się spóźnia")))
    await page.wait_for_selector("#call-phase.phase-ringing")
    await page.wait_for_selector(f"#pop-cases li:has-text('{old.number}')")
    await tour.check(page, "desk-screen-pop", dom=True)
    await page.select_option("#case-category", "")
    await page.click("#case-save")
    await page.wait_for_selector("#case-errors:not(:empty)")
    await tour.check(page, "desk-case-form-errors", dom=True)
    await page.fill("#find-case-number", old.number)
    await page.press("#find-case-number", "Enter")
    await page.wait_for_selector("#case-card:not([hidden]) #card-number:not(:empty)")
    await tour.check(page, "desk-case-card", dom=True)
    await page.fill("#kb-query", "śmieci")
    await page.press("#kb-query", "Enter")
    await page.locator("#kb-hits li").first.wait_for()
    await page.locator("#kb-hits li a, #kb-hits li button").first.click()
    await page.wait_for_selector("#kb-article:not([hidden]) #kb-title:not(:empty)")
    await tour.check(page, "desk-kb-article", dom=True)
    await page.close()

    # The wallboard with a consultant in the agents' grid.
    page = await open_as(browser, desk, tour, "kierownik")
    await page.wait_for_selector("#cti-state.ok")
    await page.wait_for_selector("#chart line.axis-line", state="attached")
    seat = await CrmDirectory(desk.db).seat("konsultant2")
    assert seat is not None
    desk.board.feed(ev.AgentLoggedIn(now(), seat.profile, seat.endpoint))
    await page.wait_for_selector("#agents tr[data-agent='konsultant2'] .badge")
    await page.wait_for_selector("#clock:not(:empty)")
    await tour.check(page, "wallboard", await source_of(await page.request.get(f"{desk.url}/wallboard")),
                     dom=True)
    await page.close()

    # The IVR editor with a script loaded and checked.
    page = await open_as(browser, desk, tour, "autor")
    await page.wait_for_selector("#status.ok")
    await page.locator("#versions li").first.wait_for()
    await tour.check(page, "ivr", await source_of(await page.request.get(f"{desk.url}/ivr")), dom=True)
    # A broken link: its problem listed, the line marked in the gutter.
    script = await page.input_value("#source")
    assert "    next: emergency" in script
    await page.fill("#source", script.replace("    next: emergency", "    next: emergncy", 1))
    await page.wait_for_selector("#problems li.root")
    await page.wait_for_selector("#gutter .ln.err")
    await tour.check(page, "ivr-problems", dom=True)
    await page.close()

    # Accounts: the list and one user's page.
    page = await open_as(browser, desk, tour, "admin")
    response = await page.goto(f"{desk.url}/admin")
    await tour.check(page, "admin-users", await source_of(response))
    response = await page.goto(f"{desk.url}/admin/users/zdm_pracownik")
    await tour.check(page, "admin-user", await source_of(response))
    await page.close()

    # A department's inbox and one of its cases.
    made = cases.create_case(desk.db, cases.NewCase(
        "roads.pothole", "Głęboka dziura przy przejściu dla pieszych", address="Puławska 100",
        district="Mokotów", lat=52.19, lon=21.01), by=cases.Actor("konsultant1"))
    cases.transition_case(desk.db, made.case.id, "forwarded", by=cases.Actor("konsultant1"))
    page = await open_as(browser, desk, tour, "zdm_pracownik")
    response = await page.goto(f"{desk.url}/dept")
    await page.wait_for_selector(f"tr[data-case='{made.case.number}']")
    await tour.check(page, "dept-inbox", await source_of(response))
    response = await page.goto(f"{desk.url}/dept/cases/{made.case.id}")
    await tour.check(page, "dept-case", await source_of(response))
    await page.close()

    # The reports with a day of calls (tables, the charts drawn from them), and with a bad date.
    record_day(desk.db)
    page = await open_as(browser, desk, tour, "kierownik")
    response = await page.goto(f"{desk.url}/reports?since={DAY}&until={DAY}&step=hour")
    await page.wait_for_selector("#chart-calls[data-drawn]", state="attached")
    await tour.check(page, "reports", await source_of(response), dom=True)
    response = await page.goto(f"{desk.url}/reports?since=abc")
    await tour.check(page, "reports-errors", await source_of(response))
    await page.close()

    # The map of reports: districts, the case above as a point, the table of districts.
    page = await open_as(browser, desk, tour, "kierownik")
    response = await page.goto(f"{desk.url}/reports/map")
    await page.wait_for_selector("#report-map[data-points='1']")
    await tour.check(page, "report-map", await source_of(response), dom=True)
    await page.close()

    tour.verdict()
