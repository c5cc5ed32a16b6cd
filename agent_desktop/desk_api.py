"""JSON endpoints of the consultant desk and the wallboard.

Inputs are parsed here, once, into crm_core's typed drafts; a bad field comes back as 422 with
one message per field (the form shows it beside the field). Live call control is not here: it
goes over the CTI websocket as commands.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from agent_desktop import security
from agent_desktop.crm import error_fields, off_loop
from agent_desktop.pages import desk_of, lang_of
from agent_desktop.security import DESK_ROLES, WALLBOARD_ROLES, requires
from crm_core.errors import CrmError, NotFound, ValidationError
from crm_core.forwarding import inbound
from crm_core.services import cases, interactions

MAX_BODY = 64 * 1024
WRAP_UP_TRIES = 20  # x 0.25 s: how long a wrap-up waits for the outbox to record the call


audit = logging.getLogger("ckm.audit")


def bad(fields: dict[str, str], status: int = 422) -> web.Response:
    return web.json_response({"ok": False, "errors": fields}, status=status)


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="expected application/json")
    size = request.content_length or 0
    if size > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=size)
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected a JSON object") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return data


def bad_field(exc: ValueError) -> web.Response:
    """A parse error worded "field: message" (as _text and _number raise them), as a 422."""
    field, _, message = str(exc).partition(": ")
    return bad({field: message})


def _text(data: dict[str, Any], name: str, limit: int = 5000) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected text")
    return value.strip()[:limit] or None


def _number(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: expected a finite number")
    return number


@requires(DESK_ROLES, api=True)
async def softphone(request: web.Request) -> web.StreamResponse:
    """The consultant's own SIP credentials, and only theirs (after login, never in the page)."""
    user = await security.current_user(request)
    assert user is not None
    desk = desk_of(request)
    if user.extension is None or user.extension not in desk.softphones:
        return web.json_response({"ok": False, "error": "no browser phone for this user"},
                                 status=404)
    host = desk.settings.asterisk_http_host
    return web.json_response({
        "ok": True, "ws": desk.sip_ws_url(request), "user": user.extension,
        "uri": f"sip:{user.extension}@{host}", "password": desk.softphones[user.extension],
        "display_name": user.full_name,
    })


@requires(DESK_ROLES, api=True)
async def desk_phone(request: web.Request) -> web.StreamResponse:
    """The SIP account of the consultant's own desk phone, for setting the phone up."""
    from ground.phones import registrar, tls_registrar

    user = await security.current_user(request)
    assert user is not None
    desk = desk_of(request)
    if user.extension is None or user.extension not in desk.desk_phones:
        return web.json_response({"ok": False, "error": "no desk phone for this user"},
                                 status=404)
    return web.json_response({
        "ok": True, "user": user.extension, "password": desk.desk_phones[user.extension],
        "registrar": registrar(desk.settings), "transport": "UDP",
        "tls_registrar": tls_registrar(desk.settings),
    })


@requires(DESK_ROLES, api=True)
async def route(request: web.Request) -> web.StreamResponse:
    category = request.query.get("category", "")
    if not category:
        return bad({"category": "choose a category"})
    try:
        department = await desk_of(request).crm.route(category, request.query.get("district"))
    except CrmError as exc:
        return bad(error_fields(exc))
    return web.json_response({"ok": True, "department": department})


@requires(DESK_ROLES, api=True)
async def nearby(request: web.Request) -> web.StreamResponse:
    q = dict(request.query)
    try:
        lat, lon = _number(q, "lat"), _number(q, "lon")
    except ValueError as exc:
        return bad({"location": str(exc)})
    category = q.get("category", "")
    if lat is None or lon is None or not category:
        return web.json_response({"ok": True, "cases": []})
    try:
        found = await desk_of(request).crm.nearby(category, lat, lon)
    except CrmError as exc:
        return bad(error_fields(exc))
    return web.json_response({"ok": True, "cases": found})


@requires(DESK_ROLES, api=True)
async def create_case(request: web.Request) -> web.StreamResponse:
    user = await security.current_user(request)
    assert user is not None
    data = await json_body(request)
    desk = desk_of(request)
    try:
        call_id = _text(data, "call_id", 120)
        if call_id and not await handled_by(desk, user, call_id):
            return not_yours(call_id)
        priority_raw = data.get("priority", 2)
        priority = int(priority_raw) if str(priority_raw).strip().isdigit() else -1
        resident = data.get("resident_id")
        duplicate = data.get("duplicate_of")
        draft = cases.NewCase(
            category=_text(data, "category", 80) or "",
            subcategory=_text(data, "subcategory", 80),
            description=_text(data, "description") or "",
            priority=priority,
            address=_text(data, "address", 300),
            district=_text(data, "district", 80),
            lat=_number(data, "lat"), lon=_number(data, "lon"),
            resident_id=resident if isinstance(resident, int) else None,
            channel="phone",
            interaction_ids=await _interaction_of(desk, call_id),
        )
    except ValueError as exc:
        return bad_field(exc)
    if not draft.category:
        return bad({"category": "choose a category"})
    try:
        notify_by = _text(data, "notify_by", 8)
        notify = (notify_by, _text(data, "notify_to", 254)) if notify_by not in (None, "none") else None
    except ValueError as exc:
        return bad_field(exc)
    try:
        created = await desk.crm.create_case(
            draft, cases.Actor(user.username, user.id),
            duplicate if isinstance(duplicate, int) else None, notify)
    except CrmError as exc:
        return bad(error_fields(exc))
    return web.json_response({"ok": True, "case": created}, status=201)


@requires(DESK_ROLES, api=True)
async def find_case(request: web.Request) -> web.StreamResponse:
    """A case by its number (`?number=19115/2026/000123`) or id (`?id=42`)."""
    raw_id, number = request.query.get("id", "").strip(), request.query.get("number", "").strip()
    if not raw_id and not number:
        return bad({"number": "type a case number such as 19115/2026/000123"})
    if raw_id and not raw_id.isdigit():
        return bad({"id": "expected a case id"})
    try:
        card = await desk_of(request).crm.find_case(
            number=number[:40], case_id=int(raw_id) if raw_id else None)
    except CrmError as exc:
        return bad(error_fields(exc), status=404)
    return web.json_response({"ok": True, "case": card})


@requires(DESK_ROLES, api=True)
async def change_status(request: web.Request) -> web.StreamResponse:
    """Move a case along its lifecycle; the residents' tracking page and Open311 show it (the
    comment only when marked public)."""
    user = await security.current_user(request)
    assert user is not None
    raw_id = request.match_info["case_id"]
    if not raw_id.isdigit():
        return bad({"id": "expected a case id"}, status=404)
    data = await json_body(request)
    try:
        status = _text(data, "status", 40)
        comment = _text(data, "comment", cases.MAX_COMMENT)
    except ValueError as exc:
        return bad_field(exc)
    if not status:
        return bad({"status": "choose the new status"})
    # Internal unless the consultant ticks "visible to the resident": only then does the
    # comment reach the tracking page and Open311 status_notes.
    public = data.get("public", False)
    if not isinstance(public, bool):
        return bad({"public": "expected true or false"})
    try:
        card = await desk_of(request).crm.change_status(
            int(raw_id), status, comment, cases.Actor(user.username, user.id), public=public)
    except CrmError as exc:
        return bad(error_fields(exc), status=404 if isinstance(exc, NotFound) else 422)
    return web.json_response({"ok": True, "case": card})


async def handled_by(desk: Any, user: security.User, call_id: str) -> bool:
    """Whether `user` is the agent who handled (or is handling) the call: the only one whose
    wrap-up or case may be written for it. The ACD knows its live calls and each agent's recent
    states (with the call they were on); the CRM's interaction names the agent of older calls
    and of calls from before a restart. Being rung is not handling: only on_call / wrap_up."""
    board = desk.switchboard
    acd = getattr(board, "acd", None)
    if acd is not None:
        for note in acd.history.get(user.username, ()):
            if note.call_id == call_id and note.state in ("on_call", "wrap_up"):
                return True
        live = acd.calls.get(call_id)
        if live is not None:
            return bool(live.agent == user.username)
    try:
        view = await off_loop(interactions.get_call, desk.crm.db, call_id)
    except NotFound:
        return False
    return view.agent_username == user.username


def not_yours(call_id: str) -> web.Response:
    return bad({"call_id": f"call {call_id!r} was not handled by you"}, status=403)


async def _interaction_of(desk: Any, call_id: str | None) -> tuple[int, ...]:
    """The CRM interaction of the call on the desk, if the outbox has written it already."""
    if not call_id:
        return ()
    try:
        view = await off_loop(interactions.get_call, desk.crm.db, call_id)
    except CrmError:
        return ()
    return (view.id,)


@requires(DESK_ROLES, api=True)
async def wrap_up(request: web.Request) -> web.StreamResponse:
    """Disposition and notes into the call's CRM interaction (crm_core.interactions.wrap_up).

    The interaction is written by the outbox from the call's events, a moment after they
    happen: a wrap-up that comes first waits for it, briefly, instead of failing.
    """
    data = await json_body(request)
    call_id = _text(data, "call_id", 120)
    disposition = _text(data, "disposition", 64)
    if not call_id or not disposition:
        return bad({"call_id": "expected the call and a disposition"})
    notes = _text(data, "notes", 4000) or ""
    user = await security.current_user(request)
    assert user is not None
    if not await handled_by(desk_of(request), user, call_id):
        return not_yours(call_id)
    db = desk_of(request).crm.db
    for attempt in range(WRAP_UP_TRIES):
        try:
            view = await off_loop(interactions.wrap_up, db, call_id, disposition_code=disposition,
                                  notes=notes, at=datetime.now(UTC))
        except ValidationError as exc:
            if set(exc.fields) == {"call_id"} and attempt < WRAP_UP_TRIES - 1:
                await asyncio.sleep(0.25)
                continue
            return bad(error_fields(exc))
        return web.json_response({"ok": True, "interaction": view.id})
    return bad({"call_id": "not recorded"})


@requires(DESK_ROLES, api=True)
async def kb_search(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "").strip()[:200]
    if len(query) < 2:
        return web.json_response({"ok": True, "hits": []})
    try:
        hits = await desk_of(request).crm.kb_search(query, lang_of(request))
    except CrmError as exc:
        return bad(error_fields(exc))
    return web.json_response({"ok": True, "hits": hits})


@requires(DESK_ROLES, api=True)
async def kb_article(request: web.Request) -> web.StreamResponse:
    try:
        article = await desk_of(request).crm.kb_article(request.match_info["slug"],
                                                        lang_of(request))
    except CrmError as exc:
        return bad(error_fields(exc), status=404)
    return web.json_response({"ok": True, "article": article})


@requires(DESK_ROLES, api=True)
async def callbacks(request: web.Request) -> web.StreamResponse:
    """Callbacks waiting in the ACD for the queues this consultant serves (read-only)."""
    user = await security.current_user(request)
    assert user is not None
    board = desk_of(request).switchboard
    items: list[dict[str, Any]] = []
    if board is not None:
        from cti.ports import Principal, Role

        mine: set[str] | None = None
        if user.role == "consultant" and board.directory is not None:
            seat = await board.directory.seat(user.username)
            mine = {m.queue for m in seat.profile.memberships} if seat is not None else set()
        view = board.snapshot_for(Principal(user.username, Role.SUPERVISOR))
        for entry in view.get("waiting", []):
            if entry.get("callback") and (mine is None or entry["queue"] in mine):
                items.append({"call_id": entry["call_id"], "queue": entry["queue"],
                              "caller": entry["caller"], "joined_at": entry["joined_at"],
                              "phase": entry["phase"]})
    return web.json_response({"ok": True, "callbacks": items})


@requires(WALLBOARD_ROLES, api=True)
async def recording(request: web.Request) -> web.StreamResponse:
    """A recorded call, for supervisors: the CRM names the recording, Asterisk stores it."""
    call_id = request.match_info["call_id"]
    desk = desk_of(request)
    try:
        view = await off_loop(interactions.get_call, desk.crm.db, call_id)
    except NotFound:
        return bad({"call_id": f"no call {call_id!r}"}, status=404)
    if not view.recording_ref:
        return bad({"call_id": f"call {call_id!r} was not recorded"}, status=404)
    s = desk.settings
    auth = aiohttp.encode_basic_auth(s.ari_user, s.ari_password)  # type: ignore[attr-defined]
    url = f"{s.ari_base}/recordings/stored/{view.recording_ref}/file"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as http, \
                http.get(url, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            if resp.status == 404:
                return bad({"call_id": "the recording is no longer stored"}, status=404)
            if resp.status != 200:
                return bad({"call_id": f"Asterisk answered {resp.status}"}, status=502)
            body = await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return bad({"call_id": f"Asterisk cannot be reached: {exc}"}, status=502)
    user = await security.current_user(request)
    audit.info("recording of %s played by %s", call_id,
                                        user.username if user else "?")
    return web.Response(body=body, content_type="audio/wav",
                        headers={"Cache-Control": "no-store"})


@requires(WALLBOARD_ROLES, api=True)
async def today(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True, **desk_of(request).chart.view()})


@requires(WALLBOARD_ROLES, api=True)
async def notifications(request: web.Request) -> web.StreamResponse:
    """Residents' notifications for supervisors: counts per status and the newest of one status
    (`?status=failed`, the default), each with its attempts and last error."""
    status = request.query.get("status", "failed")
    if status not in ("pending", "sending", "sent", "failed"):
        return bad({"status": "expected pending, sending, sent or failed"})
    return web.json_response({"ok": True, **await desk_of(request).crm.notifications(status)})


@requires(WALLBOARD_ROLES, api=True)
async def quarantine(request: web.Request) -> web.StreamResponse:
    """E-mail ckm received and attached to no case (crm_core.forwarding.inbound: no or a forged
    case tag, a sender who is not the one the tag is for), newest first, with the reason."""
    db = desk_of(request).crm.db
    rows = await off_loop(inbound.list_inbound, db, limit=50)
    total = await off_loop(inbound.quarantine_count, db)
    return web.json_response({"ok": True, "quarantined": total, "mail": [
        {"id": r.id, "received_at": r.received_at.isoformat(), "from": r.mail_from, "to": r.rcpt_to,
         "subject": r.subject, "reason": r.reason, "excerpt": r.excerpt} for r in rows]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/desk/api/softphone", softphone)
    app.router.add_get("/desk/api/deskphone", desk_phone)
    app.router.add_get("/desk/api/route", route)
    app.router.add_get("/desk/api/nearby", nearby)
    app.router.add_post("/desk/api/cases", create_case)
    app.router.add_get("/desk/api/cases/find", find_case)
    app.router.add_post("/desk/api/cases/{case_id}/status", change_status)
    app.router.add_post("/desk/api/wrapup", wrap_up)
    app.router.add_get("/desk/api/kb", kb_search)
    app.router.add_get("/desk/api/kb/{slug}", kb_article)
    app.router.add_get("/desk/api/callbacks", callbacks)
    app.router.add_get("/wallboard/api/today", today)
    app.router.add_get("/wallboard/api/notifications", notifications)
    app.router.add_get("/wallboard/api/quarantine", quarantine)
    app.router.add_get("/desk/api/recordings/{call_id}", recording)
