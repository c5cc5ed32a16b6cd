"""The map of reports (/reports/map, supervisors and admins): cases on Warsaw's 18 districts,
filtered by period, category and status, as clusters and a heat layer, with the counts per
district as a table beside it (the map's text alternative). Also serves the map's files: the
shared map module and district file (crm_core/geo/web) and Leaflet with its two plugins from
node_modules, the way SIP.js is served — nothing comes from another host.

Filters are parsed here once (`map_filter`); a bad one is a 422 naming the field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from agent_desktop.crm import off_loop
from agent_desktop.desk_api import bad
from agent_desktop.pages import current, desk_of, lang_of, render
from agent_desktop.security import requires
from crm_core.errors import ValidationError
from crm_core.geo import case_points as geo_points
from crm_core.geo.outline import GEOJSON
from crm_core.status_names import STATUS_NAMES
from crm_core.warsaw import DISTRICTS, TIMEZONE
from ground.settings import ROOT

MAP_ROLES = frozenset({"supervisor", "admin"})
DEFAULT_DAYS = 30
VENDORED = {  # URL folder under /static/vendor/ → what npm ci put in node_modules
    "leaflet": ROOT / "node_modules" / "leaflet" / "dist",
    "leaflet.markercluster": ROOT / "node_modules" / "leaflet.markercluster" / "dist",
    "leaflet.heat": ROOT / "node_modules" / "leaflet.heat" / "dist",
}

TEXT: dict[str, tuple[str, str]] = {
    "title": ("Mapa zgłoszeń", "Map of reports"),
    "filters": ("Filtry", "Filters"),
    "since": ("Od dnia", "From"),
    "until": ("Do dnia (włącznie)", "To (inclusive)"),
    "category": ("Kategoria", "Category"),
    "status": ("Status", "Status"),
    "all": ("wszystkie", "all"),
    "show": ("Pokaż", "Show"),
    "layers": ("Warstwy", "Layers"),
    "clusters": ("Punkty (grupowane)", "Points (clustered)"),
    "heat": ("Mapa cieplna", "Heat map"),
    "map_label": ("Mapa dzielnic Warszawy ze zgłoszeniami", "Map of Warsaw's districts with the reports"),
    "table": ("Zgłoszenia według dzielnic", "Reports by district"),
    "district": ("Dzielnica", "District"),
    "cases": ("Zgłoszenia", "Reports"),
    "share": ("Udział", "Share"),
    "none": ("(bez dzielnicy)", "(no district)"),
    "total": ("Razem", "Total"),
    "summary": ("{total} zgłoszeń, {points} z punktem na mapie",
                "{total} reports, {points} with a point on the map"),
    "truncated": ("pokazano najnowsze {points}", "the newest {points} shown"),
    "loading": ("Wczytywanie…", "Loading…"),
    "offline_note": ("Mapa działa bez internetu: granice dzielnic są częścią systemu (uproszczone).",
                     "The map works offline: the district boundaries ship with the system (simplified)."),
}  # fmt: skip


def strings(lang: str) -> dict[str, str]:
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in TEXT.items()}


def _day(query: Any, name: str, default: date) -> date:
    raw = (query.get(name) or "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: "a date as YYYY-MM-DD"}) from None


def map_filter(query: Any, today: date | None = None) -> geo_points.MapFilter:
    """The filter of a request's query (since, until, category, status); the last 30 days
    by default."""
    today = today or datetime.now(TIMEZONE).date()
    until = _day(query, "until", today)
    since = _day(query, "since", until - timedelta(days=DEFAULT_DAYS - 1))
    return geo_points.MapFilter(since, until, category=(query.get("category") or "").strip() or None,
                                status=(query.get("status") or "").strip() or None)


def _db(request: web.Request) -> Any:
    return desk_of(request).crm.db


@requires(MAP_ROLES)
async def map_page(request: web.Request) -> web.StreamResponse:
    user = await current(request)
    ref = await desk_of(request).crm.reference()
    errors: dict[str, str] = {}
    try:
        flt = map_filter(request.query)
        counts = await off_loop(geo_points.district_counts, _db(request), flt)
    except ValidationError as exc:
        errors = exc.fields
        flt = map_filter({})
        counts = await off_loop(geo_points.district_counts, _db(request), flt)
    lang = lang_of(request)
    rows = [(d, counts.get(d, 0)) for d in DISTRICTS] + ([("", counts[""])] if counts.get("") else [])
    return render(request, "report_map.html", user, m=strings(lang), ref=ref, flt=flt, errors=errors,
                  rows=rows, total=sum(counts.values()),
                  statuses=[(code, names[lang]) for code, names in STATUS_NAMES.items()])


@requires(MAP_ROLES, api=True)
async def points_api(request: web.Request) -> web.StreamResponse:
    db = _db(request)

    try:
        # Off the event loop: the loop also carries the consultants' call control.
        body = await off_loop(geo_points.points_json, db, map_filter(request.query))
    except ValidationError as exc:
        return bad(exc.fields)
    return web.Response(text=body, content_type="application/json")


async def districts_file(request: web.Request) -> web.StreamResponse:
    # Its own route for its media type (RFC 7946), which the static files' table does not know.
    return web.Response(body=GEOJSON.read_bytes(), content_type="application/geo+json",
                        headers={"Cache-Control": "public, max-age=3600"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports/map", map_page)
    app.router.add_get("/reports/map/api/points", points_api)
    app.router.add_get(f"/static/geo/{GEOJSON.name}", districts_file)
    app.router.add_static("/static/geo/", GEOJSON.parent, append_version=False)
    for name, folder in VENDORED.items():
        if folder.is_dir():
            app.router.add_static(f"/static/vendor/{name}/", folder)
