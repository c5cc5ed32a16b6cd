"""The case form: routing shown live, validation, nearby open cases as duplicates, and the case
landing in the CRM with the right department."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from crm_core.services import cases
from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser

HOSTILE = "<script>alert('case')</script><img src=x onerror=alert(2)>"


async def test_case_routed_to_the_department_and_duplicate_linked(desk: LiveDesk,
                                                                  page: Page) -> None:
    original = cases.create_case(desk.db, cases.NewCase(
        category="roads", subcategory="roads.pothole", description=HOSTILE,
        address="Puławska 100", district="Mokotów", lat=52.1935, lon=21.0250),
        by=cases.Actor("portal")).case
    await login(page, desk.url, "konsultant1")
    await page.keyboard.press("Alt+n")
    assert await page.evaluate("document.activeElement.id") == "case-category"

    # Nothing filled in: the CRM's field messages come back and nothing is written.
    await page.click("#case-save")
    await page.wait_for_selector("#case-errors:has-text('category')")

    await page.select_option("#case-category", "roads.pothole")
    await page.select_option("#case-district", "Wawer")  # outer district: its own office
    await page.wait_for_selector("#case-department:has-text('Urząd Dzielnicy Wawer')")
    await page.select_option("#case-district", "Mokotów")
    await page.wait_for_selector("#case-department:has-text('Zarząd Dróg Miejskich (ZDM)')")

    await page.fill("#case-address", "Puławska 102")
    await page.fill("#case-lat", "52.1937")
    await page.fill("#case-lon", "21.0252")
    await page.press("#case-lon", "Tab")
    item = page.locator(f"#nearby-list li[data-case='{original.id}']")
    await item.wait_for()
    assert HOSTILE in (await item.text_content() or "")
    assert await page.locator("#nearby-list img, #nearby-list script").count() == 0
    await page.fill("#case-description", "Głęboka dziura przy przejściu dla pieszych")
    await page.select_option("#case-priority", "1")
    await item.locator("button").click()
    await shot(page, "case-form-duplicate")
    await page.click("#case-save")
    await page.wait_for_selector("#case-result:has-text('Zapisano zgłoszenie')")
    result = await page.text_content("#case-result") or ""
    assert "Zarząd Dróg Miejskich" in result

    newest = cases.list_cases(desk.db)[0]
    assert newest.number in result
    assert (newest.department, newest.subcategory, newest.priority) == ("ZDM", "roads.pothole", 1)
    assert newest.duplicate_of == original.number and newest.status == "closed"
    assert (newest.lat, newest.lon, newest.address) == (52.1937, 21.0252, "Puławska 102")

    # A second report without the duplicate link stays open.
    await page.fill("#case-description", "Druga dziura, inna ulica")
    await page.fill("#case-lat", "")
    await page.fill("#case-lon", "")
    await page.fill("#case-address", "Żwirki i Wigury 1")
    await page.select_option("#case-district", "Ochota")
    await page.click("#case-save")
    await page.wait_for_selector("#case-result:has-text('/000003')")
    third = cases.list_cases(desk.db)[0]
    assert (third.status, third.duplicate_of, third.department) == ("new", None, "ZDM")
    assert page.dialogs == []  # type: ignore[attr-defined]
