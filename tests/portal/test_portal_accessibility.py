"""Issue #14, the residents' side: every page of the portal, opened in Chromium, has no serious
or critical axe-core violation (nor a missing <h1>, a duplicate landmark, an empty table
header) and its HTML as served has no Nu checker error: home, the report form empty and sent
back with field errors, the confirmation of a new report, a case's tracking page, tracking by
number (also when nothing is found), the knowledge base and one article, "call 19115", and an
error page (404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, Response

from crm_core.db import Database
from crm_core.services import cases, department, users
from crm_core.services.cases import Actor, NewCase
from ground.settings import Settings
from tests.a11y import Tour, require_tools
from tests.desktop.live import browser

from .conftest import free_port, make_app

__all__ = ["browser"]  # the desktop's session Chromium (Debian's binary), shared here

pytestmark = pytest.mark.browser


@pytest.fixture
async def portal_url(settings: Settings, crm_sqlite: Database, tmp_path: Path) -> AsyncIterator[str]:
    """The portal served on a real port by the test's own event loop."""
    runner = web.AppRunner(make_app(settings, crm_sqlite, tmp_path / "data"), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def source_of(response: Response | None) -> str:
    assert response is not None
    return await response.text()


async def submitted(page: Page, selector: str) -> str:
    """Click a form's submit button; the HTML the server answered with."""
    async with page.expect_navigation() as navigation:
        await page.click(selector)
    return await source_of(await navigation.value)


async def test_every_portal_page_is_accessible_and_valid(portal_url: str, crm_sqlite: Database,
                                                        browser: Browser, tmp_path: Path) -> None:
    require_tools()
    tour = Tour(tmp_path)
    made = cases.create_case(crm_sqlite, NewCase(
        "roads.pothole", "Głęboka dziura przy przejściu dla pieszych", address="Puławska 100",
        district="Mokotów", lat=52.19, lon=21.01), by=Actor("konsultant1"))
    cases.transition_case(crm_sqlite, made.case.id, "forwarded", by=Actor("konsultant1"),
                          comment="Przekazano do ZDM", public=True)
    # axe.min.js goes in as an inline script: the page's CSP is bypassed for that alone.
    page = await browser.new_page(bypass_csp=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        base = f"{portal_url}/portal"
        await tour.check(page, "home", await source_of(await page.goto(f"{base}/")))

        await tour.check(page, "report", await source_of(await page.goto(f"{base}/report")))
        # Sent with nothing chosen, a bad e-mail and a way to be told the form does not offer (as
        # a tampered request would): back with every field's error.
        await page.fill("#email", "to-nie-adres")
        await page.eval_on_selector("#notify_by option[value=sms]", "option => { option.value = 'fax'; }")
        await page.select_option("#notify_by", "fax")
        source = await submitted(page, "#report button[type=submit]")
        await page.wait_for_selector("#errors")
        await page.wait_for_selector("#category-error")
        await page.wait_for_selector("#notify_by-error")
        await tour.check(page, "report-errors", source)
        # Sent right: the confirmation with the case number and the private link.
        await page.select_option("#category", "roads.pothole")
        await page.select_option("#district", "Mokotów")
        await page.fill("#address", "Puławska 102")
        await page.fill("#description", "Wyrwa w jezdni na prawym pasie")
        await page.fill("#email", "mieszkaniec@example.pl")
        source = await submitted(page, "#report button[type=submit]")
        await page.wait_for_selector("#tracking-link")
        await tour.check(page, "case-new", source)

        # The department asks a question: the case page carries the answer form.
        admin = department.scope_of(crm_sqlite, users.get_user(crm_sqlite, "admin").id)
        department.ask_resident(crm_sqlite, admin, made.case.id, "Po której stronie jezdni?")
        response = await page.goto(f"{base}/t/{made.tracking_token}")
        await page.wait_for_selector("#history tbody tr")
        await page.wait_for_selector("#answer-form")
        await tour.check(page, "case", await source_of(response))

        await tour.check(page, "track", await source_of(await page.goto(f"{base}/track")))
        await page.fill("#number", made.case.number)
        await page.fill("#secret", "nie-ten-sekret")
        source = await submitted(page, "form[action='/portal/track'] button[type=submit]")
        await page.wait_for_selector("p.errors")
        await tour.check(page, "track-not-found", source)

        await tour.check(page, "kb", await source_of(await page.goto(f"{base}/kb")))
        response = await page.goto(f"{base}/kb?q=odpady")
        article = page.locator(".hits a").first
        await article.wait_for()
        await tour.check(page, "kb-search", await source_of(response))
        async with page.expect_navigation() as navigation:
            await article.click()
        await page.wait_for_selector("article h1")
        await tour.check(page, "kb-article", await source_of(await navigation.value))

        response = await page.goto(f"{base}/call")
        await page.wait_for_selector("#call-status[data-state]")
        await tour.check(page, "call", await source_of(response))

        response = await page.goto(f"{base}/no-such-page")
        assert response is not None and response.status == 404
        await tour.check(page, "error-404", await source_of(response))
    finally:
        await page.close()
    assert errors == [], errors
    tour.verdict()
