"""Web plumbing shared by the portal pages and the API: client address, security headers,
per-IP rate limiting, CSRF tokens and the language choice."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy

from ground import edge
from portal.i18n import LANGUAGES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSRF_COOKIE = "ckm_portal_csrf"
LANG_COOKIE = "ckm_lang"
NEW_CSRF = web.RequestKey("portal.new_csrf", str)


def client_ip(request: web.Request) -> str:
    # The TCP peer, or the address a trusted proxy forwarded (setting trusted_proxies): behind
    # a reverse proxy, residents are still counted one by one (ground.edge).
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
        # Worded for the person sending it: never the exception's name.
        if isinstance(exc, UnicodeError):
            raise MalformedBody("the request body is not valid UTF-8 text; send the form in UTF-8") from None
        raise MalformedBody("the request body is not a well-formed form (broken multipart "
                            "boundary or form encoding)") from None


@dataclass(frozen=True)
class Upload:
    """A multipart form read part by part: its text fields, and the one file kept in memory
    only up to the limit (`file_too_large` when it was bigger; its bytes are then dropped)."""

    fields: dict[str, str]
    file: bytes | None
    file_too_large: bool


CHUNK = 64 * 1024


async def read_upload(request: web.Request, file_field: str, *, max_file_bytes: int, max_body_bytes: int,
                      max_text_bytes: int = 256 * 1024) -> Upload:
    """A form with one photo, read without aiohttp's all-or-nothing size limit: a photo over
    `max_file_bytes` is read to its end and discarded (at most that much is ever held), so the
    text typed after it still arrives and the form can be shown again, kept. Reading stops at
    `max_body_bytes` in all (the fields after that point are lost). A form that is not
    multipart (no file) goes through read_form and its usual limit."""
    if request.content_type != "multipart/form-data":
        form = await read_form(request)
        return Upload({k: v for k, v in form.items() if isinstance(v, str)}, None, False)
    fields: dict[str, str] = {}
    kept: bytes | None = None
    too_large = False
    total = text_total = 0
    try:
        reader = await request.multipart()
        while total <= max_body_bytes:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise MalformedBody("the request body is not a well-formed form (nested multipart)")
            is_file = part.filename is not None
            buffer = bytearray()
            while chunk := await part.read_chunk(CHUNK):
                total += len(chunk)
                if total > max_body_bytes:
                    break
                if is_file:
                    if part.name != file_field or kept is not None or too_large:
                        continue  # another file, or a second one: not ours to keep
                    if len(buffer) + len(chunk) > max_file_bytes:
                        too_large = True
                        buffer.clear()
                    elif not too_large:
                        buffer.extend(chunk)
                else:
                    text_total += len(chunk)
                    if text_total > max_text_bytes:
                        raise MalformedBody("the form's text fields are too long")
                    buffer.extend(chunk)
            if total > max_body_bytes:
                too_large = too_large or (is_file and part.name == file_field)
                break
            if is_file:
                if part.name == file_field and kept is None and not too_large and buffer:
                    kept = bytes(buffer)
            elif part.name:
                fields[part.name] = bytes(buffer).decode(part.get_charset("utf-8"))
    except MalformedBody:
        raise
    except web.HTTPException:
        raise
    except UnicodeError:
        raise MalformedBody("the request body is not valid UTF-8 text; send the form in UTF-8") from None
    except Exception:  # a broken boundary or header: aiohttp raises assorted errors
        raise MalformedBody("the request body is not a well-formed form (broken multipart "
                            "boundary or form encoding)") from None
    return Upload(fields, kept, too_large)
