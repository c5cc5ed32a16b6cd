"""The residents' portal pages under /portal/ (HTML, Polish first, English switchable)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from crm_core.errors import NotFound, ValidationError
from crm_core.forwarding import answers
from crm_core.search import kb_search
from crm_core.warsaw import DISTRICTS
from ground import edge
from portal import kb, tracking
from portal.fields import InvalidInput
from portal.forms import parse_report_form
from portal.i18n import LANGUAGES, field_message, translate
from portal.reports import submit
from portal.state import PORTAL, Portal
from portal.web import (
    LANG_COOKIE,
    Handler,
    MalformedBody,
    client_ip,
    csrf_ok,
    csrf_token,
    language,
    read_form,
    read_upload,
    security_headers,
    set_csrf_cookie,
    too_many,
)

log = logging.getLogger("ckm.portal")
routes = web.RouteTableDef()
# A report's whole body is read at most this far (a too-big photo is read and dropped so the
# fields after it arrive); beyond it the fields still unread are lost.
MAX_REPORT_BODY = 64 * 1024 * 1024
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _portal(request: web.Request) -> Portal:
    return request.app[PORTAL]


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    portal = _portal(request)
    lang = language(request)
    body = portal.templates.get_template(template).render(
        lang=lang,
        other_lang=next(x for x in LANGUAGES if x != lang),
        t=lambda key: translate(key, lang),
        status_label=lambda status: translate(f"st_{status}", lang),
        field_message=lambda message: field_message(message, lang),
        csrf=csrf_token(request),
        path=request.path,
        **context,
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    set_csrf_cookie(request, response)
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, path="/", samesite="Lax", max_age=365 * 86400)
    return response


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    portal = _portal(request)
    # Static files are not counted: the call page alone loads ~200 SIP.js modules, and a
    # resident reloading it must not run into 429s. They cost no database work.
    retry = None
    if not request.path.startswith("/portal/static/"):
        retry = portal.limiter.hit("ip", client_ip(request), portal.config.ip_requests_per_min)
    try:
        if retry is not None:
            response: web.StreamResponse = render(
                request, "error.html", status=429, message=translate("too_many", language(request))
            )
            response.headers.update(too_many(retry))
        else:
            response = await handler(request)
    except web.HTTPRedirection:
        raise
    except MalformedBody:
        response = render(request, "error.html", status=400, message=translate("bad_form", language(request)))
    except web.HTTPException as exc:
        key = "page_missing" if exc.status in (404, 405) else "error"
        if exc.status == 413:
            key = "photo"
        response = render(request, "error.html", status=exc.status,
                          message=f"{translate(key, language(request))} ({exc.status})")
    except Exception:
        log.exception("portal page %s failed", request.path)
        response = render(request, "error.html", status=500,
                          message=translate("server_error", language(request)))
    csp = PAGE_CSP
    if request.path.startswith("/portal/call"):
        # The softphone talks SIP over WebSocket to Asterisk's own HTTP server.
        csp += f"; connect-src 'self' {webcall_ws_url(request)}; media-src 'self' blob:"
    else:
        csp += "; connect-src 'self'"
    security_headers(response, csp)
    return response


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    return render(request, "home.html")


async def _report_form(request: web.Request, status: int = 200, values: dict[str, str] | None = None,
                       errors: dict[str, str] | None = None) -> web.Response:
    catalog = await _portal(request).services()
    return render(request, "report.html", status=status, groups=catalog.groups(), districts=DISTRICTS,
                  values=values or {}, errors=errors or {}, anonymous_codes=[
                      s.code for s in catalog.services if s.anonymous_allowed])


@routes.get("/report")
async def report_page(request: web.Request) -> web.Response:
    return await _report_form(request)


def _text_fields(form: MultiDictProxy[Any]) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _refused(request: web.Request, values: dict[str, str], scope: str, rate_per_min: int,
             burst: int | None = None) -> web.Response | None:
    """The refusals every posted form checks first: a form without this browser's CSRF token
    (403), then a client over the form's rate (429, with Retry-After). None: go on."""
    if not csrf_ok(request, values.get("csrf")):
        return render(request, "error.html", status=403, message=translate("bad_form", language(request)))
    retry = _portal(request).limiter.hit(scope, client_ip(request), rate_per_min, burst)
    if retry is None:
        return None
    response = render(request, "error.html", status=429, message=translate("too_many", language(request)))
    response.headers.update(too_many(retry))
    return response


def _submissions(portal: Portal) -> tuple[int, int]:
    """A resident's reports and answers: the configured rate, half of it at once."""
    rate = portal.config.ip_submissions_per_min
    return rate, max(1, rate // 2)


@routes.post("/report")
async def report_submit(request: web.Request) -> web.StreamResponse:
    portal = _portal(request)
    # Read part by part: a photo over the limit is dropped, not a bare 413, so the form comes
    # back with everything the resident typed and says why.
    upload = await read_upload(request, "photo", max_file_bytes=portal.config.max_photo_bytes,
                               max_body_bytes=MAX_REPORT_BODY)
    values = upload.fields
    refused = _refused(request, values, "submit", *_submissions(portal))
    if refused is not None:
        return refused
    try:
        draft = parse_report_form(values, upload.file, await portal.services(),
                                  max_photo_bytes=portal.config.max_photo_bytes,
                                  photo_too_large=upload.file_too_large)
        done = await portal.run(submit, portal.db, portal.media, draft, by="portal")
    except InvalidInput as exc:
        return await _report_form(request, status=400, values=values, errors=exc.fields)
    log.info("portal report %s (case %d)", done.number, done.case_id)
    raise web.HTTPSeeOther(f"/portal/t/{done.tracking_token}?new=1")


def _case_page(request: web.Request, case: tracking.PublicCase, token: str, *, status: int = 200,
               answer_error: str | None = None, answer: str = "") -> web.Response:
    portal = _portal(request)
    photos = [portal.media.url(case.id, n) for n in portal.media.names(case.id)]
    link = f"{request.scheme}://{request.host}/portal/t/{token}"
    return render(request, "case.html", status=status, case=case, photos=photos, link=link,
                  token=token, new=request.query.get("new") == "1",
                  answered=request.query.get("answered") == "1", answer_error=answer_error,
                  answer_value=answer)


@routes.get("/t/{token}")
async def tracking_link(request: web.Request) -> web.Response:
    portal = _portal(request)
    token = request.match_info["token"]
    case = await portal.run(tracking.by_token, portal.db, token)
    if case is None:
        return render(request, "track.html", status=404, not_found=True, values={})
    return _case_page(request, case, token)


ANSWER_ERRORS = {"must not be empty": "e_answer_empty", answers.NO_QUESTION: "e_no_question"}


@routes.post("/t/{token}/answer")
async def answer_question(request: web.Request) -> web.StreamResponse:
    """The resident answers the department's question on the tracking page; the tracking token
    in the path authorises it, as it authorises reading the page."""
    portal = _portal(request)
    token = request.match_info["token"]
    values = _text_fields(await read_form(request))
    refused = _refused(request, values, "answer", *_submissions(portal))
    if refused is not None:
        return refused
    text = values.get("answer", "")
    try:
        await portal.run(answers.resident_answer, portal.db, token, text)
    except NotFound:
        return render(request, "track.html", status=404, not_found=True, values={})
    except ValidationError as exc:
        case = await portal.run(tracking.by_token, portal.db, token)
        if case is None:
            return render(request, "track.html", status=404, not_found=True, values={})
        message = exc.fields.get("answer", "")
        key = ANSWER_ERRORS.get(message, "e_answer_long" if message.startswith("at most") else "bad_form")
        return _case_page(request, case, token, status=400 if key != "e_no_question" else 409,
                          answer_error=translate(key, language(request)), answer=text[:4000])
    raise web.HTTPSeeOther(f"/portal/t/{token}?answered=1")


@routes.get("/track")
async def track_page(request: web.Request) -> web.Response:
    return render(request, "track.html", not_found=False, values={})


@routes.post("/track")
async def track_submit(request: web.Request) -> web.Response:
    portal = _portal(request)
    values = _text_fields(await read_form(request))
    # Guessing codes is the attack here: count lookups like submissions.
    refused = _refused(request, values, "track", 30)
    if refused is not None:
        return refused
    number, token = values.get("number", "")[:40], values.get("secret", "").strip()[:100]
    case = await portal.run(tracking.by_number_and_token, portal.db, number, token)
    if case is None:
        return render(request, "track.html", status=404, not_found=True, values={"number": number})
    return _case_page(request, case, token)


@routes.get("/kb")
async def kb_page(request: web.Request) -> web.Response:
    portal = _portal(request)
    lang = language(request)
    query = request.query.get("q", "").strip()[:200]
    if query:
        hits = await portal.run(kb_search, portal.db, query, lang)
        if not hits and lang != "pl":
            hits = await portal.run(kb_search, portal.db, query, "pl")
    else:
        hits = await portal.run(kb.browse, portal.db, lang)
    return render(request, "kb.html", query=query, hits=hits)


@routes.get("/kb/{slug}")
async def kb_article(request: web.Request) -> web.Response:
    portal = _portal(request)
    found = await portal.run(kb.article, portal.db, request.match_info["slug"], language(request))
    if found is None:
        raise web.HTTPNotFound()
    return render(request, "article.html", article=found, paragraphs=[
        p.strip() for p in found.body.split("\n\n") if p.strip()])


def webcall_ws_url(request: web.Request) -> str:
    config = _portal(request).config
    return edge.sip_ws_url(request, http_port=config.asterisk_http_port,
                           tls_port=config.asterisk_tls_port, explicit=config.webcall_ws_url)


@routes.get("/call")
async def call_page(request: web.Request) -> web.Response:
    return render(request, "call.html")


@routes.get("/call/config.json")
async def call_config(request: web.Request) -> web.Response:
    config = _portal(request).config
    # The webcall identity is shared and can only reach the inbound IVR (context inbound-web),
    # so handing its password to every browser gives no more than dialling 19115 does.
    return web.json_response({
        "ws_url": webcall_ws_url(request),
        "uri": f"sip:{config.webcall_user}@{config.webcall_domain}",
        "user": config.webcall_user,
        "password": config.webcall_password,
        "target": f"sip:{config.webcall_number}@{config.webcall_domain}",
    }, headers={"Cache-Control": "no-store"})


@routes.get("/media/{case_id}/{name}")
async def media(request: web.Request) -> web.StreamResponse:
    found = _portal(request).media.path(request.match_info["case_id"], request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    path, content_type = found
    return web.FileResponse(path, headers={
        "Content-Type": content_type, "Content-Disposition": "inline",
        "Cache-Control": "public, max-age=86400"})


@routes.get("/lang/{lang}")
async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    target = request.query.get("next", "/portal/")
    # Only our own pages: no open redirect through the language switch.
    if not target.startswith("/portal/") or target.startswith("//") or "\\" in target:
        target = "/portal/"
    response = web.HTTPSeeOther(target)
    response.set_cookie(LANG_COOKIE, lang, path="/", samesite="Lax", max_age=365 * 86400)
    raise response
