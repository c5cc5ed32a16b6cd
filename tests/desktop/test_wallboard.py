"""The wallboard follows the switchboard live over the CTI socket, with no polling of figures:
tiles, the agents grid, today's chart and alarms change as calls arrive, wait and leave; a
supervisor's force-pause reaches the agent, and a consultant in wrap-up gets more time. Only
the center's own health is polled (/healthz: a wedged Asterisk sends no events)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, Request

from cti import events as ev
from cti.config import Caller
from cti.crm_link import CrmDirectory
from tests.desktop.live import LiveDesk, login, shot
from tests.polling import wait_until

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
    # Everything above came over the websocket: no HTTP request since the page loaded but the
    # health poll.
    assert [r for r in requests if not r.endswith("/healthz")] == []
    assert page.dialogs == []  # type: ignore[attr-defined]


async def test_a_supervisor_gives_a_consultant_in_wrap_up_more_time(
        desk: LiveDesk, page: Page) -> None:
    from cti import commands as cmd

    rings: list[cmd.RingAgent] = []

    class Pbx:
        def execute(self, command: cmd.Command) -> None:
            if isinstance(command, cmd.RingAgent):
                rings.append(command)

    desk.board.attach_pbx(Pbx())
    await login(page, desk.url, "kierownik")
    await page.wait_for_selector("#cti-state.ok")
    seat = await CrmDirectory(desk.db).seat("konsultant2")
    assert seat is not None
    desk.board.feed(ev.AgentLoggedIn(now(), seat.profile, seat.endpoint))
    desk.board.feed(ev.CallEnqueued(now(), "wb-2", "czystosc", Caller("+48601000002", "Ola")))
    assert rings and rings[-1].agent == "konsultant2"
    desk.board.feed(ev.AgentAnswered(now(), "wb-2", "konsultant2", rings[-1].offer))
    desk.board.feed(ev.HangupRequested(now(), "wb-2", "konsultant2"))
    button = page.locator("#agents tr[data-agent='konsultant2'] button:has-text('+60 s')")
    await page.wait_for_selector("#agents tr[data-agent='konsultant2'] .badge.state-wrap_up")
    before = desk.board.acd.agents["konsultant2"].wrapup_until
    assert before is not None and await button.is_enabled()
    await button.click()

    def extended() -> datetime | None:
        after = desk.board.acd.agents["konsultant2"].wrapup_until
        return after if after is not None and after > before else None

    after = await wait_until("the supervisor's +60 s to reach the ACD", extended)
    assert (after - before).total_seconds() == 60
    assert desk.board.acd.agents["konsultant2"].status.value == "wrap_up"
