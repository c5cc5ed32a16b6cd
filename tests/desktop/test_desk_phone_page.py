"""A consultant whose CRM extension is a desk SIP phone: the desk offers no browser softphone
and shows the desk phone's SIP account on request; nobody gets another kind's credentials."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from crm_core.services import users
from ground.phones import desk_phone_users, registrar, sip_password
from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser

FETCH_STATUS = "async (path) => (await fetch(path)).status"


async def test_a_desk_phone_consultant_sees_the_phones_sip_account_and_no_softphone(
        desk: LiveDesk, page: Page) -> None:
    settings = desk.center.settings
    extension = desk_phone_users(settings)[0]
    users.update_user(desk.db, "konsultant2", extension=extension)
    await login(page, desk.url, "konsultant2")
    assert page.url == desk.url + "/desk"
    assert await page.text_content("#desk-phone") == f"telefon biurkowy {extension}"
    assert await page.query_selector("#btn-phone") is None
    assert await page.is_hidden("#desk-phone-account")
    await page.click("#btn-desk-phone")
    await page.wait_for_selector("#desk-phone-account", state="visible")
    assert await page.text_content("#desk-phone-user") == extension
    assert await page.text_content("#desk-phone-password") == sip_password(settings, extension)
    assert await page.text_content("#desk-phone-registrar") == f"{registrar(settings)} (UDP)"
    await shot(page, "desk-phone-account")
    await page.click("#btn-desk-phone")
    assert await page.is_hidden("#desk-phone-account")
    assert await page.evaluate(FETCH_STATUS, "/desk/api/softphone") == 404

    # A browser-softphone consultant has the softphone, and no desk phone account.
    await login(page, desk.url, "konsultant1")
    assert await page.query_selector("#btn-phone") is not None
    assert await page.query_selector("#btn-desk-phone") is None
    assert await page.evaluate(FETCH_STATUS, "/desk/api/deskphone") == 404
    assert await page.evaluate(FETCH_STATUS, "/desk/api/softphone") == 200


async def test_a_supervisor_with_a_desk_phone_sees_its_account_on_the_wallboard(
        desk: LiveDesk, page: Page) -> None:
    settings = desk.center.settings
    extension = desk_phone_users(settings)[1]
    users.update_user(desk.db, "kierownik", extension=extension)
    await login(page, desk.url, "kierownik")
    assert page.url == desk.url + "/wallboard"
    assert await page.text_content("#desk-phone") == f"telefon biurkowy {extension}"
    assert await page.query_selector("#btn-phone") is None
    await page.click("#btn-desk-phone")
    await page.wait_for_selector("#desk-phone-account", state="visible")
    assert await page.text_content("#desk-phone-password") == sip_password(settings, extension)
    await shot(page, "wallboard-desk-phone-account")
