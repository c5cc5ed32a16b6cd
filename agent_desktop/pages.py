"""The HTML pages: login/logout, language, the consultant desk, the IVR editor (the wallboard
is agent_desktop.wallboard).

Pages are complete server-rendered HTML (progressive enhancement): the JS modules attach to
what is there and add the live parts. Nothing user-supplied is ever put into markup by JS.
"""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Any

from aiohttp import web

from agent_desktop import i18n, login_guard, security
from agent_desktop.desk import DESK, Desk
from agent_desktop.security import DESK_ROLES, IVR_ROLES, User, requires
from ground import edge

LOGIN_CSRF_COOKIE = "ckm_login_csrf"
HOME_BY_ROLE = {"consultant": "/desk", "supervisor": "/wallboard", "ivr_author": "/ivr",
                "department_staff": "/dept", "admin": "/wallboard"}


def desk_of(request: web.Request) -> Desk:
    return request.app[DESK]


def lang_of(request: web.Request) -> str:
    return i18n.pick(request.cookies.get(security.LANG_COOKIE))


def render(request: web.Request, template: str, user: User | None, **context: Any
           ) -> web.Response:
    lang = lang_of(request)
    strings = i18n.strings(lang)
    html = desk_of(request).templates.get_template(template).render(
        t=strings, lang=lang, user=user, path=request.path, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def safe_next(value: str | None, default: str) -> str:
    # Only local paths: "//evil.example" and "https://…" would make the login an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


async def home(request: web.Request) -> web.StreamResponse:
    user = await security.current_user(request)
    if user is None:
        raise web.HTTPSeeOther("/login")
    raise web.HTTPSeeOther(HOME_BY_ROLE.get(user.role, "/login"))


def login_page(request: web.Request, *, error: bool, nxt: str, username: str,
               status: int = 200, notice: str = "", retry_after: float = 0.0) -> web.Response:
    # No session yet: the form's CSRF token is a double-submit pair (cookie + field), so a
    # cross-site page cannot log the browser in as someone else (login CSRF).
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, error=error, next=nxt, username=username,
                      csrf=token, notice=notice)
    response.set_status(status)
    if retry_after > 0:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                        secure=request.secure, max_age=3600)
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    return login_page(request, error=False, nxt=safe_next(request.query.get("next"), ""),
                      username="")


async def login(request: web.Request) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="cross-origin login refused")
    form = await request.post()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    presented = str(form.get(security.CSRF_FIELD, ""))
    if not expected or not hmac.compare_digest(expected, presented):
        raise web.HTTPForbidden(text="login form expired or forged; reload the page",
                                content_type="text/plain")
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:256]
    nxt = safe_next(str(form.get("next", "")), "")
    if not username:
        return login_page(request, error=True, nxt=nxt, username=username, status=401)
    guard = request.app[login_guard.LOGIN_GUARD]
    address = edge.client_address(request)  # behind a trusted proxy: the forwarded client
    wait = guard.retry_after(username, address)
    if wait > 0:  # locked: answered without checking the password at all
        return login_page(request, error=True, nxt=nxt, username=username, status=429,
                          notice=login_guard.message("locked", lang_of(request), wait),
                          retry_after=wait)
    try:
        found = await desk_of(request).crm.login(username, password, guard.check)
    except login_guard.Busy:
        return login_page(request, error=True, nxt=nxt, username=username, status=429,
                          notice=login_guard.message("busy", lang_of(request)), retry_after=5)
    if found is None:
        guard.failed(username, address)
    if found is None or found[0].role not in security.ROLES:
        return login_page(request, error=True, nxt=nxt, username=username, status=401)
    guard.succeeded(username, address)
    view, token = found
    old = request.cookies.get(security.SESSION_COOKIE)
    if old:
        await desk_of(request).crm.logout(old)
    response = web.HTTPSeeOther(nxt or HOME_BY_ROLE.get(view.role, "/"))
    security.set_session_cookie(response, request, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


@requires(frozenset(security.ROLES))
async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(security.SESSION_COOKIE)
    if token:
        await desk_of(request).crm.logout(token)
    response = web.HTTPSeeOther("/login")
    security.clear_session_cookie(response)
    raise response


async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = i18n.pick(request.match_info["lang"])
    response = web.HTTPSeeOther(safe_next(request.query.get("next"), "/"))
    response.set_cookie(security.LANG_COOKIE, lang, samesite="Strict", path="/",
                        max_age=365 * 86400, httponly=True)
    raise response


async def current(request: web.Request) -> User:
    user = await security.current_user(request)
    assert user is not None  # the role gate ran first
    return user


@requires(DESK_ROLES)
async def desk_page(request: web.Request) -> web.StreamResponse:
    user = await current(request)
    ref = await desk_of(request).crm.reference()
    return render(request, "desk.html", user, ref=ref,
                  has_phone=user.extension in desk_of(request).softphones,
                  desk_phone=user.extension in desk_of(request).desk_phones)


@requires(IVR_ROLES)
async def ivr_page(request: web.Request) -> web.StreamResponse:
    user = await current(request)
    scripts = await desk_of(request).scripts.overview()
    return render(request, "ivr.html", user, scripts=scripts)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/lang/{lang}", switch_language)
    app.router.add_get("/desk", desk_page)
    app.router.add_get("/ivr", ivr_page)
