"""The department workspace at /dept (roles department_staff and admin): the inbox of the
department's cases, the case card and the department's actions on a case.

Server-rendered forms, no script (the strict CSP of the desktop applies). Every POST carries the
session's CSRF token and ends in a redirect to the case card (POST-redirect-GET). What a user
may do is decided by crm_core.services.department: staff act only on the cases of their
departments — another department's case is 404 on the card (its existence is not told) and 403
on an action, with the reason; an action the lifecycle does not allow is 422 with the reason on
the card, and nothing changes. Photos of a case are served from the portal's media store
through this module's handler, behind the same department check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from agent_desktop import security
from agent_desktop.crm import off_loop
from agent_desktop.pages import desk_of, lang_of, render
from agent_desktop.security import DEPT_ROLES, User, requires
from crm_core.errors import CrmError, NotFound, ValidationError
from crm_core.models import CaseStatus
from crm_core.photos import MediaStore
from crm_core.services import department, sla
from crm_core.services.department import Forbidden, InboxFilter, Scope
from crm_core.services.routing import list_categories
from crm_core.warsaw import DISTRICTS, TIMEZONE

log = logging.getLogger(__name__)

ESCALATE_EVERY_S = 30.0  # the inbox raises escalations at most this often
MEDIA: web.AppKey[MediaStore] = web.AppKey("dept_media")
LAST_ESCALATION: web.AppKey[list[float]] = web.AppKey("dept_last_escalation")
ACTIONS = ("accept", "resolve", "reject", "return", "reassign", "note", "ask")

TEXT: dict[str, tuple[str, str]] = {
    "title": ("Zgłoszenia jednostki", "Department cases"),
    "nav": ("Jednostka", "Department"),
    "no_department": ("Nie należysz do żadnej jednostki — poproś administratora o przypisanie.",
                      "You belong to no department yet — ask an admin to add you to one."),
    "all_departments": ("wszystkie jednostki", "all departments"),
    "compliance": ("Terminowość (30 dni)", "On time (30 days)"),
    "compliance_none": ("brak zamkniętych spraw", "no cases closed yet"),
    "tab_open": ("Otwarte", "Open"), "tab_new": ("Nowe", "New"),
    "tab_overdue": ("Po terminie", "Overdue"), "tab_due_today": ("Termin dziś", "Due today"),
    "tab_in_progress": ("W realizacji", "In progress"), "tab_done": ("Zamknięte", "Closed"),
    "category": ("Kategoria", "Category"), "district": ("Dzielnica", "District"),
    "status": ("Status", "Status"), "age": ("Wiek", "Age"), "search": ("Szukaj", "Search"),
    "search_hint": ("numer, adres lub treść", "number, address or text"),
    "any": ("— dowolna —", "— any —"), "filter": ("Filtruj", "Filter"),
    "age_d1": ("do 1 dnia", "up to 1 day"), "age_d7": ("do 7 dni", "up to 7 days"),
    "age_d30": ("do 30 dni", "up to 30 days"), "age_older30": ("starsze niż 30 dni", "older than 30 days"),
    "number": ("Numer", "Number"), "place": ("Miejsce", "Place"), "due": ("Termin", "Due"),
    "flags": ("Uwagi", "Flags"), "none": ("Brak zgłoszeń.", "No cases."),
    "next_page": ("Następne zgłoszenia", "Next cases"), "first_page": ("Początek listy", "First page"),
    "overdue": ("po terminie", "overdue"),
    "esc_1": ("eskalacja: kierownik jednostki", "escalated: head of department"),
    "esc_2": ("eskalacja: kierownik centrum", "escalated: center supervisor"),
    "awaiting": ("czeka na mieszkańca", "awaiting the resident"),
    "original": ("oryginał", "original"), "dup": ("duplikat", "duplicate"),
    "close_dups": ("Zamknij zaznaczone jako duplikaty oryginału",
                   "Close the ticked ones as duplicates of the original"),
    "back": ("Wróć do listy", "Back to the list"),
    "description": ("Opis zgłaszającego", "The caller's description"),
    "consultant_notes": ("Notatki konsultanta", "The consultant's notes"),
    "location": ("Lokalizacja", "Location"), "map": ("mapa", "map"), "photos": ("Zdjęcia", "Photos"),
    "resident": ("Mieszkaniec", "Resident"),
    "contact_hidden": ("Dane kontaktowe mieszkańca nie są udostępniane tej jednostce.",
                       "The resident's contact data is not shared with this department."),
    "deadline": ("Termin (SLA)", "Deadline (SLA)"), "working_hours": ("godz. robocze", "working hours"),
    "forwarded_at": ("Przekazano", "Forwarded"), "returns": ("Zwroty do centrum", "Returns to the center"),
    "history": ("Historia", "History"), "when": ("Kiedy", "When"), "who": ("Kto", "Who"),
    "comment": ("Komentarz", "Comment"), "public": ("publiczny", "public"),
    "internal_notes": ("Notatki wewnętrzne (niewidoczne dla mieszkańca)",
                       "Internal notes (never shown to the resident)"),
    "actions": ("Działania", "Actions"),
    "accept": ("Przyjmij do realizacji", "Accept"),
    "resolve": ("Załatwione — odpowiedź dla mieszkańca", "Resolve — answer for the resident"),
    "reject": ("Odrzuć — uzasadnienie dla mieszkańca", "Reject — reason for the resident"),
    "return": ("Zwróć do centrum — powód", "Return to the center — reason"),
    "reassign": ("Przekaż innej jednostce", "Reassign to another department"),
    "ask": ("Zapytaj mieszkańca (pytanie jest publiczne)", "Ask the resident (the question is public)"),
    "note": ("Dodaj notatkę wewnętrzną", "Add an internal note"),
    "send": ("Zapisz", "Save"),
    "done_accept": ("Przyjęto do realizacji.", "Accepted."),
    "done_resolve": ("Zgłoszenie załatwione.", "Resolved."),
    "done_reject": ("Zgłoszenie odrzucone.", "Rejected."),
    "done_return": ("Zwrócono do centrum.", "Returned to the center."),
    "done_reassign": ("Przekazano innej jednostce.", "Reassigned."),
    "done_note": ("Notatka zapisana.", "Note saved."),
    "done_ask": ("Pytanie zapisane; mieszkaniec je otrzyma.", "Question saved; the resident will get it."),
    "done_duplicates": ("Duplikaty zamknięte.", "Duplicates closed."),
    "departments": ("Jednostki", "Departments"), "head": ("kierownik", "head"),
    "add_department": ("Dodaj do jednostki", "Add to department"), "remove": ("Usuń", "Remove"),
}  # fmt: skip
DONE = (*ACTIONS, "duplicates")


def strings(lang: str) -> dict[str, str]:
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in TEXT.items()}


def when(moment: datetime | None) -> str:
    """A moment as Warsaw local time, as staff read it."""
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _db(request: web.Request) -> Any:
    return desk_of(request).crm.db


async def _user(request: web.Request) -> User:
    user = await security.current_user(request)
    assert user is not None  # the role gate ran first
    return user


async def _scope(request: web.Request) -> Scope:
    user = await _user(request)
    try:
        return await off_loop(department.scope_of, _db(request), user.id)
    except NotFound:
        raise web.HTTPForbidden(text="account gone", content_type="text/plain") from None


def _media(request: web.Request) -> MediaStore:
    return request.app[MEDIA]


def media_store(settings: Any) -> MediaStore:
    """The portal's photo store (crm_core.photos), read here behind the department check."""
    chosen = settings.extra.get("portal", {}).get("media_dir")
    return MediaStore(Path(chosen) if chosen else settings.data_dir / "portal-media", url_prefix="")


async def _escalate(request: web.Request) -> None:
    last = request.app[LAST_ESCALATION]
    if time.monotonic() - last[0] < ESCALATE_EVERY_S:
        return
    last[0] = time.monotonic()
    try:
        raised = await off_loop(sla.escalate_overdue, _db(request))
    except Exception:  # an escalation sweep is no reason to refuse the inbox
        log.exception("escalation sweep failed")
        return
    if raised:
        log.info("escalated %d overdue case(s)", raised)


async def sweep(db: Any, every_s: float = 60.0) -> None:
    """Raise escalations of overdue cases every `every_s` seconds, for as long as ckm runs (the
    inbox also does it when opened): a deadline passes whether anyone looks or not."""
    while True:
        await asyncio.sleep(every_s)
        try:
            raised = await off_loop(sla.escalate_overdue, db)
        except Exception as exc:  # the CRM may be away for a while; try again later
            log.warning("escalation sweep failed: %s", exc)
            continue
        if raised:
            log.info("escalated %d overdue case(s)", raised)


def _optional(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value or None


def _case_id(request: web.Request) -> int:
    raw = request.match_info["case_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound(text="no such case", content_type="text/plain")
    return int(raw)


@requires(DEPT_ROLES)
async def inbox_page(request: web.Request) -> web.StreamResponse:
    user = await _user(request)
    scope = await _scope(request)
    await _escalate(request)
    f = InboxFilter(tab=request.query.get("tab", "open"), category=_optional(request, "category"),
                    district=_optional(request, "district"), status=_optional(request, "status"),
                    age=_optional(request, "age"), q=_optional(request, "q"),
                    department=_optional(request, "department"), after=_optional(request, "after"))
    errors: dict[str, str] = {}
    try:
        box = await off_loop(department.inbox, _db(request), scope, f)
    except Forbidden as exc:
        raise web.HTTPForbidden(text=str(exc), content_type="text/plain") from None
    except ValidationError as exc:
        errors = dict(exc.fields)
        box = await off_loop(department.inbox, _db(request), scope, InboxFilter())
    categories = await off_loop(list_categories, _db(request))
    departments = await off_loop(department.list_departments, _db(request))
    done = request.query.get("done", "")
    # The next page keeps the filters and names the last row shown (keyset, not an offset).
    kept = {k: v for k, v in request.query.items() if k not in ("after", "done") and v}
    next_url = f"/dept?{urlencode({**kept, 'after': box.next_after})}" if box.next_after else None
    first_url = f"/dept?{urlencode(kept)}" if f.after else None
    response = render(request, "dept_inbox.html", user, d=strings(lang_of(request)), box=box,
                      f=f, scope=scope, errors=errors, when=when, tabs=department.TABS,
                      next_url=next_url, first_url=first_url,
                      categories=categories, districts=DISTRICTS, departments=departments,
                      statuses=[s.value for s in department.SEEN_STATUSES],
                      ages=tuple(department.AGES), done=done if done in DONE else "")
    if errors:
        response.set_status(422)
    return response


async def _card_page(request: web.Request, case_id: int, *, errors: dict[str, str] | None = None,
                     status: int = 200) -> web.Response:
    user = await _user(request)
    scope = await _scope(request)
    db = _db(request)
    try:
        card = await off_loop(department.card, db, scope, case_id)
    except (Forbidden, NotFound):
        raise web.HTTPNotFound(text="no such case in your departments",
                               content_type="text/plain") from None
    photos = _media(request).names(card.id)
    recipients = (await off_loop(department.escalation_recipients, db, card.id)
                  if card.escalation_level else [])
    departments = await off_loop(department.list_departments, db)
    done = request.query.get("done", "")
    response = render(request, "dept_case.html", user, d=strings(lang_of(request)), card=card,
                      photos=photos, departments=departments, recipients=recipients,
                      errors=errors or {}, when=when, forwarded=CaseStatus.FORWARDED.value,
                      done=done if done in DONE else "")
    response.set_status(status)
    return response


@requires(DEPT_ROLES)
async def case_page(request: web.Request) -> web.StreamResponse:
    return await _card_page(request, _case_id(request))


@requires(DEPT_ROLES)
async def case_photo(request: web.Request) -> web.StreamResponse:
    case_id = _case_id(request)
    scope = await _scope(request)
    try:
        await off_loop(department.card, _db(request), scope, case_id)
    except (Forbidden, NotFound):
        raise web.HTTPNotFound(text="no such photo", content_type="text/plain") from None
    found = _media(request).path(str(case_id), request.match_info["photo"])
    if found is None:
        raise web.HTTPNotFound(text="no such photo", content_type="text/plain")
    path, content_type = found
    return web.FileResponse(path, headers={"Content-Type": content_type,
                                           "Cache-Control": "private, max-age=3600"})


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def _run(action: str, scope: Scope, db: Any, case_id: int, form: dict[str, str]) -> None:
    if action == "accept":
        department.accept(db, scope, case_id)
    elif action == "resolve":
        department.resolve(db, scope, case_id, form.get("answer", ""))
    elif action == "reject":
        department.reject(db, scope, case_id, form.get("answer", ""))
    elif action == "return":
        department.return_to_center(db, scope, case_id, form.get("reason", ""))
    elif action == "reassign":
        department.reassign(db, scope, case_id, form.get("department", ""),
                            form.get("comment") or None)
    elif action == "note":
        department.add_note(db, scope, case_id, form.get("note", ""))
    elif action == "ask":
        department.ask_resident(db, scope, case_id, form.get("question", ""))
    else:  # pragma: no cover - routes name only ACTIONS
        raise ValueError(action)


def _action(action: str) -> Any:
    @requires(DEPT_ROLES)
    async def handler(request: web.Request) -> web.StreamResponse:
        case_id = _case_id(request)
        form = await _form(request)
        scope = await _scope(request)
        try:
            await off_loop(_run, action, scope, _db(request), case_id, form)
        except Forbidden as exc:
            raise web.HTTPForbidden(text=f"403 — {exc}", content_type="text/plain") from None
        except NotFound:
            raise web.HTTPNotFound(text="no such case", content_type="text/plain") from None
        except ValidationError as exc:
            return await _card_page(request, case_id, errors=dict(exc.fields), status=422)
        except CrmError as exc:
            return await _card_page(request, case_id, errors={"error": str(exc)}, status=422)
        log.info("dept %s: %s on case %d", scope.username, action, case_id)
        raise web.HTTPSeeOther(f"/dept/cases/{case_id}?done={action}")

    handler.__name__ = f"dept_{action}"
    return handler


@requires(DEPT_ROLES)
async def close_duplicates(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    scope = await _scope(request)
    original = str(form.get("original", ""))
    ids = [str(v) for v in form.getall("case", []) if isinstance(v, str)]
    if not original.isdigit() or not all(i.isdigit() and len(i) < 13 for i in ids):
        raise web.HTTPUnprocessableEntity(text="choose the original and the duplicates",
                                          content_type="text/plain")
    try:
        count = await off_loop(department.close_duplicates, _db(request), scope, int(original),
                               [int(i) for i in ids])
    except Forbidden as exc:
        raise web.HTTPForbidden(text=f"403 — {exc}", content_type="text/plain") from None
    except NotFound:
        raise web.HTTPNotFound(text="no such case", content_type="text/plain") from None
    except ValidationError as exc:
        raise web.HTTPUnprocessableEntity(text=str(exc), content_type="text/plain") from None
    log.info("dept %s: closed %d duplicate(s) of case %s", scope.username, count, original)
    raise web.HTTPSeeOther("/dept?done=duplicates")


def add_routes(app: web.Application, settings: Any) -> None:
    app[LAST_ESCALATION] = [0.0]
    app[MEDIA] = media_store(settings)
    app.router.add_get("/dept", inbox_page)
    app.router.add_get("/dept/cases/{case_id}", case_page)
    app.router.add_get("/dept/cases/{case_id}/photos/{photo}", case_photo)
    for action in ACTIONS:
        app.router.add_post(f"/dept/cases/{{case_id}}/{action}", _action(action))
    app.router.add_post("/dept/duplicates", close_duplicates)
