"""The admin pages in a real browser: accounts, a generated password shown once, queues and
skills the ACD reads; a password change or disabling logs the user's open browser out."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from crm_core.services import users
from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser


async def test_admin_creates_an_account_with_queues_and_skills(
        desk: LiveDesk, page: Page, browser: Browser) -> None:
    await login(page, desk.url, "admin")
    response = await page.goto(desk.url + "/admin")
    assert response is not None and response.status == 200
    csp = (await response.all_headers())["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert await page.locator("#accounts tr[data-username='konsultant1']").count() == 1
    # A password against the policy is refused with the reason, nothing created.
    await page.fill("#new-username", "slaby")
    await page.fill("#new-password", "krotkie")
    await page.click("#new-submit")
    assert "at least 12 characters" in (await page.text_content("#admin-errors") or "")
    assert await page.input_value("#new-username") == "slaby"
    # No password given: one is generated and shown once.
    await page.fill("#new-username", "jnowak")
    await page.fill("#new-full-name", "Jan Nowak")
    await page.select_option("#new-role", "consultant")
    await page.fill("#new-extension", "1004")
    await page.fill("#new-password", "")
    await page.click("#new-submit")
    generated = (await page.text_content("#generated-password") or "").strip()
    assert len(generated) >= 12
    await shot(page, "admin-user-created")
    assert [u.username for u in users.list_users(desk.db) if u.username == "slaby"] == []
    # Queues and skills, as the ACD will read them.
    await page.goto(desk.url + "/admin/users/jnowak")
    assert await page.locator("#generated-password").count() == 0  # shown once only
    await page.select_option("#queue", "drogi")
    await page.fill("#penalty", "1")
    await page.click("#queue-submit")
    await page.wait_for_selector("#memberships tr[data-queue='drogi']")
    await page.select_option("#queue", "ogolna")
    await page.click("#queue-submit")
    await page.wait_for_selector("#memberships tr[data-queue='ogolna']")
    for skill, level in (("roads", "4"), ("pl", "5")):
        await page.fill("#skill", skill)
        await page.fill("#level", level)
        await page.click("#skill-submit")
        await page.wait_for_selector(f"#skills tr[data-skill='{skill}']")
    await page.fill("#skill", "zła nazwa")
    await page.click("#skill-submit")
    assert "lowercase" in (await page.text_content("#admin-errors") or "")
    await page.goto(desk.url + "/admin/users/jnowak")
    await page.click("#memberships tr[data-queue='ogolna'] button")
    await page.wait_for_selector("#admin-done")
    assert await page.locator("#memberships tr[data-queue='ogolna']").count() == 0
    await shot(page, "admin-user-queues")
    assert desk.board.directory is not None
    seat = await desk.board.directory.seat("jnowak")
    assert seat is not None
    assert [(m.queue, m.penalty) for m in seat.profile.memberships] == [("drogi", 1)]
    assert seat.profile.skills == {"roads": 4, "pl": 5}
    assert seat.endpoint == "PJSIP/1004"
    # The new consultant logs in with the generated password.
    other = await browser.new_page()
    try:
        await login(other, desk.url, "jnowak", generated)
        assert other.url == desk.url + "/desk"
    finally:
        await other.close()
    # The admin cannot lock themselves out.
    await page.goto(desk.url + "/admin/users/admin")
    assert await page.locator("#active-submit").count() == 0
    await page.select_option("#role", "consultant")
    await page.click("#profile-submit")
    assert "roli administratora" in (await page.text_content("#admin-errors") or "")
    assert users.get_user(desk.db, "admin").role == "admin"


async def test_a_new_password_or_disabling_logs_the_open_browser_out(
        desk: LiveDesk, page: Page, browser: Browser) -> None:
    await login(page, desk.url, "konsultant1")
    assert page.url == desk.url + "/desk"
    await page.wait_for_selector("#cti-state.ok")
    admin = await browser.new_page()
    try:
        await login(admin, desk.url, "admin")
        await admin.goto(desk.url + "/admin/users/konsultant1")
        await admin.fill("#password", "nowe-haslo-konsultanta")
        await admin.click("#password-submit")
        assert "sesje użytkownika zakończone" in (await admin.text_content("#admin-done") or "")
        # Its CTI socket is closed by the server, and a new one is refused.
        await page.wait_for_selector("#cti-state.warn")
        # The consultant's open page: its API calls get 401, the next page the login form.
        status = await page.evaluate("async () => (await fetch('/desk/api/callbacks')).status")
        assert status == 401
        await page.goto(desk.url + "/desk")
        assert page.url == desk.url + "/login?next=/desk"
        await login(page, desk.url, "konsultant1")  # the old password no longer works
        assert page.url.startswith(desk.url + "/login")
        await login(page, desk.url, "konsultant1", "nowe-haslo-konsultanta")
        assert page.url == desk.url + "/desk"
        # Disabled: out again, and no way back in.
        await admin.goto(desk.url + "/admin/users/konsultant1")
        await admin.click("#active-submit")
        await admin.wait_for_selector("#admin-done")
        assert "wyłączone" in (await admin.text_content("#account-state") or "")
        await shot(admin, "admin-user-disabled")
        await page.goto(desk.url + "/desk")
        assert page.url == desk.url + "/login?next=/desk"
        await login(page, desk.url, "konsultant1", "nowe-haslo-konsultanta")
        assert await page.text_content("#login-error") == "Nieprawidłowy login lub hasło."
    finally:
        await admin.close()
