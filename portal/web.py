"""Web plumbing shared by the portal pages and the API: client address, security headers,
per-IP rate limiting, CSRF tokens and the language choice."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import MultiDictProxy

from ckm import edge
from portal.i18n import LANGUAGES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSRF_COOKIE = "ckm_portal_csrf"
LANG_COOKIE = "ckm_lang"
NEW_CSRF = web.RequestKey("portal.new_csrf", str)


def client_ip(request: web.Request) -> str:
    # The TCP peer, or the address a trusted proxy forwarded (setting trusted_proxies): behind
    # a reverse proxy, residents are still counted one by one (ckm.edge).
    return edge.client_address(request)


def security_headers(response: web.StreamResponse, csp: str) -> None:
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Tracking links carry the secret in the path: never leak it to another site.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")


def too_many(retry_after: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(retry_after + 0.999)))}


def csrf_token(request: web.Request) -> str:
    """The token for this browser: the cookie's value, or a new one the response must set."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if len(existing) == 43:
        return existing
    token = request.get(NEW_CSRF)
    if token is None:
        token = secrets.token_urlsafe(32)
        request[NEW_CSRF] = token
    return token


def set_csrf_cookie(request: web.Request, response: web.StreamResponse) -> None:
    token = request.get(NEW_CSRF)
    if token:
        response.set_cookie(CSRF_COOKIE, token, path="/portal", httponly=True, samesite="Strict")


def csrf_ok(request: web.Request, submitted: str | None) -> bool:
    """Double-submit check: the form's hidden field must equal the SameSite=Strict cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and submitted is not None and hmac.compare_digest(cookie.encode(), submitted.encode())


def language(request: web.Request) -> str:
    wanted = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "")
    return wanted if wanted in LANGUAGES else "pl"


class MalformedBody(Exception):
    """The request body could not be parsed as a form (broken multipart, bad encoding)."""


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """request.post() with parser failures turned into MalformedBody (a 400, not a 500).
    Size limits still surface as aiohttp's 413."""
    try:
        return await request.post()
    except web.HTTPException:
        raise
    except Exception as exc:  # aiohttp raises assorted ValueError/AssertionError on bad bodies
        raise MalformedBody(f"malformed request body: {type(exc).__name__}") from None
