"""Sessions, roles, CSRF and response headers of the desktop, wallboard and IVR editor.

Rules:
- The session is crm_core's web session: the cookie `ckm_session` holds the token whose hash
  the CRM stores, so the CTI hub (cti.crm_link.CrmSessions) admits the same browser with the
  same cookie. HttpOnly and SameSite=Strict always; Secure when the request came over HTTPS,
  directly or through a trusted proxy (ground.edge marks every cookie of an HTTPS response;
  browsers drop Secure cookies set over plain http, and the center serves http://127.0.0.1 by
  default).
- CSRF: the token is an HMAC of the session token, so it needs no storage, dies with the
  session, and cannot be computed by a page that cannot read the HttpOnly cookie. Every POST
  carries it (form field `csrf` or header `X-CSRF-Token`); the websocket handshake carries it
  as `?csrf=` (checked by `guard_cti_socket`) together with a same-origin check.
- Role gates answer 403 with a page that says which role would be needed; an anonymous
  browser is sent to the login page (HTML) or gets 401 (JSON).
- Every response of these pages gets a strict CSP (`script-src 'self'`, no inline script or
  style attributes needed) and the usual hardening headers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

SESSION_COOKIE = "ckm_session"  # the name cti.hub reads as well
LANG_COOKIE = "ckm_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

ROLES = ("consultant", "supervisor", "ivr_author", "department_staff", "admin")
# Who may open what. Admins may do everything; supervisors also see the consultant desk so
# they can take calls at a busy hour.
DESK_ROLES = frozenset({"consultant", "supervisor", "admin"})
WALLBOARD_ROLES = frozenset({"supervisor", "admin"})
IVR_ROLES = frozenset({"ivr_author", "admin"})
# The department workspace (/dept): department staff, for their departments' cases; admins.
DEPT_ROLES = frozenset({"department_staff", "admin"})

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self' {extra}; media-src 'self' blob: mediastream:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@dataclass(frozen=True)
class User:
    """The logged-in user of a request (crm_core's UserView, plus the session's CSRF token)."""

    id: int
    username: str
    full_name: str
    role: str
    extension: str | None
    csrf: str

    def may(self, roles: Iterable[str]) -> bool:
        return self.role in roles


def csrf_for(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"ckm-desktop-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_for(session_token), presented)


DESK_USER: web.RequestKey[User | None] = web.RequestKey("desk_user")
SessionLookup = Callable[[str], Awaitable[Any]]  # token → crm_core UserView | None


async def current_user(request: web.Request) -> User | None:
    """Who is logged in, looked up once per request (crm_core is synchronous: off the loop)."""
    if DESK_USER in request:
        return request[DESK_USER]
    token = request.cookies.get(SESSION_COOKIE)
    user: User | None = None
    if token:
        lookup: SessionLookup = request.app[SESSION_LOOKUP]
        view = await lookup(token)
        if view is not None and view.is_active and view.role in ROLES:
            user = User(view.id, view.username, view.full_name, view.role, view.extension,
                        csrf_for(token))
    request[DESK_USER] = user
    return user


SESSION_LOOKUP: web.AppKey[SessionLookup] = web.AppKey("desk_session_lookup")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(roles: frozenset[str], *, api: bool = False) -> Callable[[Handler], Handler]:
    """Gate a handler by role; POSTs also need the CSRF token of the session."""

    def wrap(handler: Handler) -> Handler:
        async def gated(request: web.Request) -> web.StreamResponse:
            user = await current_user(request)
            if user is None:
                if api:
                    raise web.HTTPUnauthorized(text='{"error": "not logged in"}',
                                               content_type="application/json")
                raise web.HTTPSeeOther(f"/login?next={request.path}")
            if not user.may(roles):
                raise forbidden(request, user, roles, api=api)
            if request.method not in ("GET", "HEAD"):
                await check_csrf(request)
            return await handler(request)

        return gated

    return wrap


def forbidden(request: web.Request, user: User, roles: Iterable[str], *,
              api: bool) -> web.HTTPForbidden:
    need = ", ".join(sorted(roles))
    if api:
        return web.HTTPForbidden(
            text=f'{{"error": "role {user.role} may not do this; needs one of: {need}"}}',
            content_type="application/json")
    return web.HTTPForbidden(
        text=(f"403 — rola {user.role} nie ma tu dostępu (potrzebna: {need}).\n"
              f"403 — role {user.role} may not open this page (needs: {need})."),
        content_type="text/plain")


async def check_csrf(request: web.Request) -> None:
    token = request.cookies.get(SESSION_COOKIE, "")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.content_type in ("application/x-www-form-urlencoded",
                                                      "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not token or not csrf_ok(token, presented):
        raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page",
                                content_type="text/plain")


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=request.secure, max_age=12 * 3600)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def is_desk_path(path: str) -> bool:
    return path == "/" or path.startswith(DESK_PREFIXES)


DESK_PREFIXES = ("/login", "/logout", "/lang", "/desk", "/wallboard", "/ivr", "/admin", "/dept",
                 "/reports", "/static/desk/", "/static/vendor/", "/static/geo/")


def add_security_headers(ws_origin: Callable[[web.Request], str]
                         ) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An on_response_prepare hook; only our own paths, so the portal keeps its own policy.
    `ws_origin(request)` is the softphone's SIP WebSocket origin for that page (its scheme and
    host follow the page's), the one place besides 'self' the page may connect to."""

    async def hook(request: web.Request, response: web.StreamResponse) -> None:
        if not is_desk_path(request.path):
            return
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP.format(extra=ws_origin(request)))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        # The softphone needs the microphone on this origin; nothing else is wanted.
        headers.setdefault("Permissions-Policy",
                           "microphone=(self), camera=(), geolocation=(), payment=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")

    return hook


@web.middleware
async def guard_cti_socket(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers that come to /cti/ws with the session cookie must be same-origin and present
    the CSRF token: a SameSite=Strict cookie already stops most cross-site sockets, this makes
    the socket's commands as CSRF-proof as the forms. Scripts using a Bearer token or an auth
    frame (no cookie) are left to the hub."""
    if request.path != "/cti/ws" or SESSION_COOKIE not in request.cookies:
        return await handler(request)
    if request.headers.get("Authorization") or request.query.get("token"):
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="cross-origin websocket refused")
    if not csrf_ok(request.cookies[SESSION_COOKIE], request.query.get("csrf")):
        raise web.HTTPForbidden(text="websocket without a valid CSRF token refused")
    return await handler(request)
