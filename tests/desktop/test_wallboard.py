"""The wallboard follows the switchboard live over the CTI socket, with no polling: tiles, the
agents grid, today's chart and alarms change as calls arrive, wait and leave; a supervisor's
force-pause reaches the agent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, Request

from cti import events as ev
from cti.config import Caller
from cti.crm_link import CrmDirectory
from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser


def now() -> datetime:
    return datetime.now(UTC)


async def test_tiles_agents_chart_and_alarms_follow_calls(desk: LiveDesk, page: Page) -> None:
    await login(page, desk.url, "kierownik")
    await page.wait_for_selector("#cti-state.ok")
    await page.wait_for_selector("#chart line.axis-line", state="attached")
    tile = page.locator(".tile[data-queue='czystosc']")
    assert await tile.locator(".v-waiting").text_content() == "0"
    requests: list[str] = []

    def seen(request: Request) -> None:
        requests.append(request.url)

    page.on("request", seen)

    seat = await CrmDirectory(desk.db).seat("konsultant1")
    assert seat is not None
    desk.board.feed(ev.AgentLoggedIn(now(), seat.profile, seat.endpoint))
    row = page.locator("#agents tr[data-agent='konsultant1']")
    await row.wait_for()
    await page.wait_for_selector("#agents tr[data-agent='konsultant1'] .badge.state-available")

    # A caller waits in a queue nobody logged in serves: counted, charted, alarmed.
    desk.board.feed(ev.CallEnqueued(now(), "wb-1", "czystosc", Caller("+48601000001", "Ala")))
    await page.wait_for_selector(".tile[data-queue='czystosc'] .v-waiting:text-is('1')")
    await page.wait_for_selector("#chart[data-total='1'] rect.bar")
    await page.wait_for_selector(".tile[data-queue='czystosc'].alarm")
    assert "brak wolnych konsultantów" in (await page.text_content("#alarms") or "")
    await shot(page, "wallboard-waiting")

    # The caller gives up: waiting back to 0, abandoned 100 %, service level 0 % — below target.
    desk.board.feed(ev.CallerHungUp(now(), "wb-1"))
    await page.wait_for_selector(".tile[data-queue='czystosc'] .v-waiting:text-is('0')")
    await page.wait_for_selector(".tile[data-queue='czystosc'] .v-abandoned:text-is('100.0%')")
    await page.wait_for_selector(".tile[data-queue='czystosc'] .v-sl:text-is('0%')")
    assert "poziom obsługi poniżej celu" in (await page.text_content("#alarms") or "")
    await page.wait_for_selector("#chart polyline.sl-line", state="attached")

    # Force-pause from the grid: a CTI command, and the agent's row follows.
    await page.select_option("#force-reason", "coaching")
    await row.locator("button:has-text('Wymuś przerwę')").click()
    # The ACD's reason ("coaching (forced by kierownik)") is shown in the page's words.
    await page.wait_for_selector(
        "#agents tr[data-agent='konsultant1'] .badge.state-paused"
        ":has-text('Rozmowa z kierownikiem, wymusił(a) kierownik')")
    assert desk.board.acd.agents["konsultant1"].status.value == "paused"
    await shot(page, "wallboard-after")
    # Everything above came over the websocket: not one HTTP request since the page loaded.
    assert requests == []
    assert page.dialogs == []  # type: ignore[attr-defined]
