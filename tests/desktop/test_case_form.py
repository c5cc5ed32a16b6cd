"""The case form: routing shown live, validation, nearby open cases as duplicates, and the case
landing in the CRM with the right department."""

from __future__ import annotations

from zoneinfo import ZoneInfo

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


async def test_consultant_finds_a_case_and_moves_it_along_its_lifecycle(desk: LiveDesk,
                                                                        page: Page) -> None:
    """A resident calls about a report: the consultant opens it by number, reads its history
    (hostile text stays text), forwards it, and is offered only the moves the lifecycle allows;
    a move the lifecycle forbids, sent by hand, is refused with the reason and changes nothing."""
    case = cases.create_case(desk.db, cases.NewCase(
        category="roads", subcategory="roads.pothole", description=HOSTILE,
        address="Grójecka 1", district="Ochota"), by=cases.Actor("portal")).case
    await login(page, desk.url, "konsultant1")
    await page.keyboard.press("Alt+f")
    assert await page.evaluate("document.activeElement.id") == "find-case-number"

    await page.fill("#find-case-number", "19115/1999/999999")
    await page.press("#find-case-number", "Enter")
    await page.wait_for_selector("#find-case-errors:has-text('19115/1999/999999')")
    assert await page.is_hidden("#case-card")

    await page.fill("#find-case-number", case.number)
    await page.press("#find-case-number", "Enter")
    await page.wait_for_selector("#case-card:not([hidden])")
    assert await page.text_content("#card-status") == "Przyjęte"
    assert await page.text_content("#card-description") == HOSTILE
    assert await page.text_content("#card-category") == "Drogi i chodniki · Dziura w jezdni"
    # Times read in Warsaw, whatever zone the server stores them in (UTC).
    warsaw = case.created_at.astimezone(ZoneInfo("Europe/Warsaw"))
    assert await page.text_content("#card-created") == warsaw.strftime("%Y-%m-%d %H:%M")
    assert await page.locator("#case-card img, #case-card script").count() == 0
    offered = await page.eval_on_selector_all("#status-next option", "os => os.map(o => o.value)")
    assert offered == ["forwarded", "in_progress", "rejected", "closed"]

    await page.select_option("#status-next", "forwarded")
    await page.fill("#status-comment", "Przekazano do ZDM <b>pilne</b>")
    await page.click("#btn-status")
    await page.wait_for_selector("#card-status[data-status='forwarded']")
    await page.wait_for_selector("#card-history li:has-text('Przekazano do ZDM <b>pilne</b>')")
    assert "Zarząd Dróg Miejskich" in (await page.text_content("#card-department") or "")
    offered = await page.eval_on_selector_all("#status-next option", "os => os.map(o => o.value)")
    assert "forwarded" not in offered and "in_progress" in offered
    await shot(page, "case-card")

    # Forwarded → forwarded is not a move: the server says why, nothing is written.
    refused = await page.evaluate("""async (id) => {
        const r = await fetch(`/desk/api/cases/${id}/status`, {method: "POST",
          headers: {"Content-Type": "application/json",
                    "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content},
          body: JSON.stringify({status: "forwarded"})});
        return [r.status, await r.json()];
    }""", case.id)
    assert refused[0] == 422 and "cannot go from 'forwarded'" in refused[1]["errors"]["status"]
    stored = cases.get_case(desk.db, case.id)
    assert stored.status == "forwarded"
    assert [(h.to_status, h.by, h.comment, h.public) for h in stored.history][-1] == (
        "forwarded", "konsultant1", "Przekazano do ZDM <b>pilne</b>", False)  # internal unless ticked

    # Closing is final: the card says so and offers no more moves.
    await page.select_option("#status-next", "closed")
    await page.click("#btn-status")
    await page.wait_for_selector("#card-status[data-status='closed']")
    assert await page.is_hidden("#status-form") and await page.is_visible("#status-final")
    assert page.dialogs == []  # type: ignore[attr-defined]
