"""Login, roles, sessions, CSRF and headers, seen from a real browser."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser


async def test_login_sends_each_role_home_and_wrong_password_is_refused(
        desk: LiveDesk, page: Page) -> None:
    await login(page, desk.url, "konsultant1", "wrong-password")
    assert await page.text_content("#login-error") == "Nieprawidłowy login lub hasło."
    await shot(page, "login-failed")
    for user, home, title in [("konsultant1", "/desk", "Stanowisko konsultanta"),
                              ("kierownik", "/wallboard", "Tablica kierownika"),
                              ("autor", "/ivr", "Edytor IVR"),
                              ("admin", "/wallboard", "Tablica kierownika")]:
        await login(page, desk.url, user)
        assert page.url == desk.url + home, user
        assert title in await page.title()
    # English is one click away, and it sticks.
    await page.click("a.lang")
    await page.wait_for_selector("text=Supervisor wallboard")
    await page.click("button:has-text('Log out')")
    await page.wait_for_url(f"{desk.url}/login")
    response = await page.goto(f"{desk.url}/desk")
    assert response is not None and page.url.startswith(f"{desk.url}/login")


async def test_consultant_cannot_reach_supervisor_or_author_pages_or_actions(
        desk: LiveDesk, page: Page) -> None:
    await login(page, desk.url, "konsultant1")
    for path in ("/wallboard", "/ivr"):
        response = await page.goto(desk.url + path)
        assert response is not None and response.status == 403, path
        assert "403" in (await page.text_content("body") or "")
    await page.goto(desk.url + "/desk")
    status = await page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/ivr/api/scripts/19115/publish', {method: 'POST',
          headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
          body: JSON.stringify({text: 'script: x'})});
        const w = await fetch('/wallboard/api/today');
        return [r.status, w.status];
    }""")
    assert status == [403, 403]
    # Supervisor commands over the CTI socket are refused for a consultant.
    await page.wait_for_selector("#cti-state.ok")
    reason = await page.evaluate("""() => new Promise((resolve) => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const ws = new WebSocket(`ws://${location.host}/cti/ws?csrf=${csrf}`);
        ws.onmessage = (m) => {
          const f = JSON.parse(m.data);
          if (f.type === 'snapshot') ws.send(JSON.stringify(
            {type: 'force_pause', id: 'x', agent: 'konsultant2', reason: 'break'}));
          if (f.type === 'refused') { resolve(f.reason); ws.close(); }
        };
    })""")
    assert "may not" in reason


async def test_commands_need_a_session_and_the_csrf_token(desk: LiveDesk, page: Page) -> None:
    # No session: the API answers 401, pages send to the login form.
    await page.goto(desk.url + "/login")
    anonymous = await page.evaluate("""async () => {
        const r = await fetch('/desk/api/cases', {method: 'POST',
          headers: {'Content-Type': 'application/json'}, body: '{}'});
        const forgedLogin = await fetch('/login', {method: 'POST', redirect: 'manual',
          body: new URLSearchParams({username: 'konsultant1', password: 'demo19115',
                                     csrf: 'guessed'})});
        return [r.status, forgedLogin.status];
    }""")
    assert anonymous == [401, 403]
    await login(page, desk.url, "konsultant1")
    results = await page.evaluate("""async () => {
        const post = (headers) => fetch('/desk/api/cases', {method: 'POST',
          headers: {'Content-Type': 'application/json', ...headers},
          body: JSON.stringify({category: 'roads.pothole', description: 'x',
                                address: 'Marszałkowska 1'})});
        const none = (await post({})).status;
        const forged = (await post({'X-CSRF-Token': 'f'.repeat(64)})).status;
        const logout = (await fetch('/logout',
          {method: 'POST', body: new URLSearchParams({csrf: 'nope'})})).status;
        return [none, forged, logout];
    }""")
    assert results == [403, 403, 403]
    # The CTI socket with the session cookie but without the CSRF token is refused; with it, works.
    outcome = await page.evaluate("""async () => {
        const open = (url) => new Promise((resolve) => {
          const ws = new WebSocket(url);
          ws.onmessage = (m) => { resolve(JSON.parse(m.data).type); ws.close(); };
          ws.onerror = () => resolve('refused');
        });
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        return [await open(`ws://${location.host}/cti/ws`),
                await open(`ws://${location.host}/cti/ws?csrf=${csrf}`)];
    }""")
    assert outcome == ["refused", "snapshot"]
    # Nothing was created by the refused requests.
    from crm_core.services import cases
    assert cases.list_cases(desk.db) == []


async def test_session_cookie_and_security_headers(desk: LiveDesk, page: Page) -> None:
    await login(page, desk.url, "konsultant1")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "ckm_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") in ("", "ckm_lang=pl")
    response = await page.goto(desk.url + "/desk")
    assert response is not None
    headers = await response.all_headers()
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    # The CSP is live: an inline script injected into the page does not run.
    ran = await page.evaluate("""() => {
        window.__ran = false;
        const s = document.createElement('script');
        s.textContent = 'window.__ran = true';
        document.body.append(s);
        return window.__ran;
    }""")
    assert ran is False
    # A logged-out session is dead on the server too (the old cookie no longer works).
    token = cookie["value"]
    await page.click("button:has-text('Wyloguj')")
    await page.wait_for_url(f"{desk.url}/login")
    await page.context.add_cookies([{"name": "ckm_session", "value": token, "url": desk.url}])
    await page.goto(desk.url + "/desk")
    assert page.url.startswith(f"{desk.url}/login")
