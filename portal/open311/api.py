"""GeoReport v2 handlers. Every failure answers in the spec's error format, in the format the
path asked for; nothing reaches the client as a stack trace."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from aiohttp import web

from crm_core.services.contact_center import ApiKeyView, verify_api_key
from portal import tracking
from portal.catalog import Service, attributes_for
from portal.fields import InvalidInput
from portal.open311 import render
from portal.open311.intake import check_token, parse_post, parse_query
from portal.open311.openapi import document
from portal.reports import submit
from portal.state import PORTAL, Portal
from portal.web import Handler, MalformedBody, client_ip, read_form, security_headers, too_many

log = logging.getLogger("ckm.open311")
routes = web.RouteTableDef()
FMT = "{fmt:(json|xml)}"
KEY_CACHE_S = 30.0  # a revoked key stops working within this long
# Longer request targets get 414 in the spec's format (the web server itself reads lines up to
# ckm.runner's MAX_REQUEST_LINE, so these reach the API instead of its bare 400 page).
MAX_URL = 8192
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.headers = headers
        super().__init__(message)


def _fmt(request: web.Request) -> str:
    return "xml" if request.path.endswith(".xml") else "json"


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    portal: Portal = request.app[PORTAL]
    fmt = _fmt(request)
    try:
        retry = portal.limiter.hit("ip", client_ip(request), portal.config.ip_requests_per_min)
        if retry is not None:
            raise ApiError(429, "too many requests from this address", too_many(retry))
        if len(request.raw_path) > MAX_URL:
            raise ApiError(414, f"the URL is too long (more than {MAX_URL} bytes); send fewer or "
                                "shorter parameters")
        check_jurisdiction(portal, request.query.get("jurisdiction_id"))
        response = await handler(request)
    except ApiError as exc:
        response = render.errors(fmt, exc.status, [exc.message], exc.headers)
    except InvalidInput as exc:
        response = render.errors(fmt, 400, [f"{k}: {v}" for k, v in exc.fields.items()])
    except MalformedBody as exc:
        response = render.errors(fmt, 400, [str(exc)])
    except web.HTTPException as exc:
        headers = None
        if exc.status == 404:
            message = "no such resource; see /open311/v2/openapi.json"
        elif isinstance(exc, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(exc.allowed_methods))
            message = f"method {request.method} not allowed here; allowed: {allowed}"
            headers = {"Allow": allowed}
        elif exc.status == 413:
            message = (f"the request is too large; a photo (media) may have at most "
                       f"{portal.config.max_photo_bytes // (1024 * 1024)} MB")
        else:
            message = exc.reason
        response = render.errors(fmt, exc.status, [message], headers)
    except Exception:
        log.exception("open311 %s %s failed", request.method, request.path)
        response = render.errors(fmt, 500, ["internal error; the request was not completed"])
    security_headers(response, "default-src 'none'; frame-ancestors 'none'")
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def check_jurisdiction(portal: Portal, value: str | None) -> None:
    """The same rule in the query string and in a POST body: absent or empty is this city."""
    if value and value.strip() and value.strip() != portal.config.jurisdiction_id:
        raise ApiError(404, f"unknown jurisdiction_id; this is {portal.config.jurisdiction_id}")


def _service_row(s: Service) -> dict[str, Any]:
    return {
        "service_code": s.code, "service_name": s.name, "description": s.description, "metadata": True,
        "type": "realtime", "keywords": ", ".join(s.keywords), "group": s.group,
    }


@routes.get(f"/services.{FMT}")
async def services(request: web.Request) -> web.Response:
    catalog = await request.app[PORTAL].services()
    return render.respond(_fmt(request), "services", "service", [_service_row(s) for s in catalog.services])


@routes.get("/services/{code}." + FMT)
async def service_definition(request: web.Request) -> web.Response:
    catalog = await request.app[PORTAL].services()
    service = catalog.get(request.match_info["code"])
    if service is None:
        raise ApiError(404, f"no service {request.match_info['code'][:60]!r}; see services.json")
    body = {
        "service_code": service.code,
        "attributes": [
            {
                "variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
                "datatype_description": a.datatype_description or None, "order": a.order,
                "description": a.description,
                "values": [{"key": v.key, "name": v.name} for v in a.values],
            }
            for a in attributes_for(service)
        ],
    }
    if _fmt(request) == "json":
        return render.respond("json", "", None, body)
    return render.respond("xml", "service_definition", None, body)


def _extensions(request: web.Request) -> bool:
    """`extensions=true`: the rows carry `extended_attributes` (a GeoReport v2 extension used
    in the wild), here `detailed_status`, the case's own status in capitals — what tells a
    client that a closed request was rejected (GeoReport v2 itself has only open/closed)."""
    return request.query.get("extensions", "").lower() == "true"


def request_row(portal: Portal, case: tracking.PublicCase, *, extensions: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "service_request_id": case.request_id,
        "status": "open" if case.is_open else "closed",
        "status_notes": case.status_notes,
        "service_name": case.service_name,
        "service_code": case.service_code,
        "description": case.description,
        "agency_responsible": case.agency,
        "service_notice": None,
        "requested_datetime": render.w3c(case.created_at),
        "updated_datetime": render.w3c(case.updated_at),
        "expected_datetime": render.w3c(case.due_at),
        "address": ", ".join(x for x in (case.address, case.district) if x) or None,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": portal.media.first_url(case.id),
    }
    if extensions:
        row["extended_attributes"] = {"detailed_status": case.status.upper()}
    return row


def _absolute(request: web.Request, row: dict[str, Any]) -> dict[str, Any]:
    if row["media_url"]:
        row["media_url"] = f"{request.scheme}://{request.host}{row['media_url']}"
    return row


@routes.get(f"/requests.{FMT}")
async def list_requests(request: web.Request) -> web.Response:
    portal = request.app[PORTAL]
    query = parse_query(request.query, page_size_default=portal.config.page_size_default,
                        page_size_max=portal.config.page_size_max)
    found = await portal.run(tracking.find, portal.db, query)
    rows = [_absolute(request, request_row(portal, c, extensions=_extensions(request))) for c in found]
    return render.respond(_fmt(request), "service_requests", "request", rows)


@routes.get("/requests/{id}." + FMT)
async def get_request(request: web.Request) -> web.Response:
    portal = request.app[PORTAL]
    wanted = request.match_info["id"]
    query = parse_query({"service_request_id": wanted}, page_size_default=1, page_size_max=1)
    found = await portal.run(tracking.find, portal.db, query)
    if not found:
        raise ApiError(404, f"no service request {wanted[:40]!r}")
    rows = [_absolute(request, request_row(portal, c, extensions=_extensions(request))) for c in found]
    return render.respond(_fmt(request), "service_requests", "request", rows)


@routes.get("/tokens/{token}." + FMT)
async def token_lookup(request: web.Request) -> web.Response:
    portal = request.app[PORTAL]
    token = request.match_info["token"]
    check_token(token)
    found = await portal.run(tracking.by_token, portal.db, token)
    if found is None:
        raise ApiError(404, "no service request for this token")
    rows = [{"service_request_id": found.request_id, "token": token}]
    return render.respond(_fmt(request), "service_requests", "request", rows)


class KeyCache:
    """Verified keys for a short while: a POST then costs no extra database round trip."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[ApiKeyView, float]] = {}

    def get(self, key: str) -> ApiKeyView | None:
        hit = self._seen.get(hashlib.sha256(key.encode()).hexdigest())
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def put(self, key: str, view: ApiKeyView) -> None:
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[hashlib.sha256(key.encode()).hexdigest()] = (view, time.monotonic() + KEY_CACHE_S)


KEYS = web.AppKey("open311.keys", KeyCache)


async def _api_key(request: web.Request, params: dict[str, str]) -> ApiKeyView:
    portal = request.app[PORTAL]
    key = params.get("api_key") or request.query.get("api_key", "")
    if not key:
        raise ApiError(403, "api_key is required to submit a service request")
    if len(key) > 100 or not key.isascii() or not key.isprintable():  # NUL: PostgreSQL refuses it
        raise ApiError(403, "invalid api_key")
    cache = request.app[KEYS]
    view = cache.get(key)
    if view is None:
        view = await portal.run(verify_api_key, portal.db, key)
        if view is None:
            # Failed keys count against the address: slows down guessing.
            portal.limiter.hit("badkey", client_ip(request), 20)
            raise ApiError(403, "invalid api_key")
        cache.put(key, view)
    retry = portal.limiter.hit("key", view.prefix, view.rate_limit_per_min)
    if retry is not None:
        raise ApiError(429, "rate limit of this api_key exceeded", too_many(retry))
    return view


@routes.post(f"/requests.{FMT}")
async def post_request(request: web.Request) -> web.Response:
    portal = request.app[PORTAL]
    if request.body_exists and request.content_type not in FORM_TYPES:
        raise ApiError(415, "send the request form-encoded (application/x-www-form-urlencoded or "
                            f"multipart/form-data), as GeoReport v2 does; got {request.content_type[:60]}")
    form = await read_form(request)
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    # Checked before anything else, like the query string's: a wrong city creates nothing.
    check_jurisdiction(portal, params.get("jurisdiction_id"))
    key = await _api_key(request, params)
    upload = form.get("media")
    media: bytes | None = None
    if isinstance(upload, web.FileField):
        media = upload.file.read(portal.config.max_photo_bytes + 1)
    catalog = await portal.services()
    draft = parse_post(params, media, catalog, max_photo_bytes=portal.config.max_photo_bytes)
    done = await portal.run(submit, portal.db, portal.media, draft, by=f"open311:{key.owner}")
    log.info("open311 request %s from key %s", done.number, key.prefix)
    rows = [{
        "service_request_id": tracking.request_id(done.number),
        "token": done.tracking_token,
        "service_notice": "Zgłoszenie przyjęte przez 19115.",
        "account_id": None,
    }]
    return render.respond(_fmt(request), "service_requests", "request", rows)


SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this API's behaviour last changed (W3C date-time); clients compare it to decide whether
# to read the documentation again. Bump it with every change a client can notice.
CHANGESET = "2026-12-01T00:00:00+01:00"
discovery_routes = web.RouteTableDef()


@discovery_routes.get(f"/discovery.{FMT}")
async def discovery(request: web.Request) -> web.Response:
    """GeoReport v2 service discovery: where the API is, in which formats, whom to ask."""
    config = request.app[PORTAL].config
    body = {
        "changeset": CHANGESET,
        "contact": config.api_contact,
        "key_service": config.api_key_service,
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": f"{request.scheme}://{request.host}/open311/v2",
            "changeset": CHANGESET,
            "type": "production",
            "formats": [render.XML_TYPE, render.JSON_TYPE],
        }],
    }
    if _fmt(request) == "json":
        return render.respond("json", "", None, body)
    return render.respond("xml", "discovery", None, body)


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[PORTAL].config.page_size_max))
