"""The reports page (/reports) for supervisors and admins: calls per queue and interval, agents,
cases; each table downloadable as CSV, all of them as one XLSX workbook.

The page, the CSV and the XLSX are built from the same tables (crm_core.services.reports_export)
computed for the same query string, so a download holds exactly the figures on the page. The
form is a plain GET (bookmarkable, works without JavaScript); reports.js draws the charts from
the tables under them. The map of reports is its own page (/reports/map), linked as a tab.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from agent_desktop.crm import off_loop
from agent_desktop.pages import current, desk_of, lang_of, render
from agent_desktop.security import WALLBOARD_ROLES, requires
from crm_core.errors import ValidationError
from crm_core.models import utcnow
from crm_core.services import reports_calls, reports_cases, reports_export
from crm_core.services.reports_calls import WARSAW, ReportFilter
from crm_core.services.reports_export import Table

REPORT_ROLES = WALLBOARD_ROLES
# The page's own words: key → (pl, en).
TEXT: dict[str, tuple[str, str]] = {
    "title": ("Raporty", "Reports"),
    "tab_calls": ("Połączenia", "Calls"),
    "tab_agents": ("Konsultanci", "Agents"),
    "tab_cases": ("Zgłoszenia", "Cases"),
    "tab_map": ("Mapa zgłoszeń", "Map of reports"),
    "since": ("Od dnia", "From"),
    "until": ("Do dnia (włącznie)", "To (inclusive)"),
    "step": ("Przedział", "Interval"),
    "step_day": ("dzień", "day"),
    "step_hour": ("godzina", "hour"),
    "step_15min": ("15 minut", "15 minutes"),
    "weekdays": ("Dni tygodnia", "Weekdays"),
    "hours": ("Godziny", "Hours"),
    "hour_from": ("od godziny", "from hour"),
    "hour_to": ("do godziny (bez)", "to hour (exclusive)"),
    "short_abandon": ("Porzucenie krótkie do (s)", "Short abandon up to (s)"),
    "show": ("Pokaż", "Show"),
    "xlsx": ("Pobierz wszystko (XLSX)", "Download all (XLSX)"),
    "csv": ("CSV", "CSV"),
    "errors": ("Popraw pola formularza:", "Please correct the form:"),
    "definitions": ("Jak liczymy", "How figures are counted"),
    "def_sl": ("Poziom obsługi = odebrane w progu kolejki / (odebrane + porzucone − porzucone "
               "krótkie). Przy progu porzucenia krótkiego 0 s to ta sama liczba co na tablicy "
               "kierownika.",
               "Service level = answered within the queue's threshold / (answered + abandoned − "
               "short abandoned). With a short-abandon threshold of 0 s it is the wallboard's "
               "figure."),
    "def_asa": ("ASA = średni czas oczekiwania odebranych; czekanie średnie i p90 liczone z "
                "odebranych i porzuconych.",
                "ASA = mean wait of answered callers; average and p90 wait over answered and "
                "abandoned callers."),
    "def_aht": ("AHT = (rozmowa + zawieszenie + praca po rozmowie) / obsłużone połączenia.",
                "AHT = (talk + hold + wrap-up) / calls handled."),
    "def_moment": ("Każda liczba trafia do przedziału swojej chwili: oferowane — wejście do "
                   "kolejki, odebrane — połączenie, porzucone — rozłączenie w kolejce. Samoobsługa "
                   "IVR: połączenia zakończone w IVR po sprawdzeniu statusu lub informacji.",
                   "Each figure lands in the interval of its own moment: offered — joining the "
                   "queue, answered — connecting, abandoned — hanging up in the queue. IVR "
                   "self-service: calls that ended in the IVR after a status lookup or "
                   "information."),
    "def_cases": ("Zgłoszenia z okresu (data przyjęcia). Czas do przekazania: przyjęcie → pierwsze "
                  "przekazanie; do załatwienia: przyjęcie → ostatnie załatwienie, odrzucenie lub "
                  "zamknięcie (p50/p90, godziny). W terminie: załatwione przed terminem jednostki. "
                  "Zaległość: otwarte dziś, wg wieku.",
                  "Cases of the period (by when reported). Time to forward: reported → first "
                  "forwarded; to resolve: reported → last resolved, rejected or closed (p50/p90, "
                  "hours). On time: finished by the department's deadline. Backlog: still open "
                  "now, by age."),
    "chart_calls": ("Wykres: oferowane, odebrane i porzucone połączenia w przedziałach; poziom "
                    "obsługi. Dane w tabeli poniżej.",
                    "Chart: calls offered, answered and abandoned per interval; service level. "
                    "The data is in the table below."),
    "chart_districts": ("Wykres: zgłoszenia wg dzielnicy. Dane w tabeli poniżej.",
                        "Chart: cases by district. The data is in the table below."),
    "none": ("Brak danych w tym okresie.", "No data in this period."),
    "table": ("Tabela", "Table"),
    "wd0": ("pon", "Mon"), "wd1": ("wt", "Tue"), "wd2": ("śr", "Wed"), "wd3": ("czw", "Thu"),
    "wd4": ("pt", "Fri"), "wd5": ("sob", "Sat"), "wd6": ("nd", "Sun"),
}


def strings(lang: str) -> dict[str, str]:
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in TEXT.items()}
SECTIONS = ("calls", "agents", "cases")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_filter(query: MultiMapping[str], today: date, short_abandon_s: int) -> ReportFilter:
    """The report's filter from the form's fields; defaults: the last 7 days by day."""
    errors: dict[str, str] = {}

    def day(name: str, default: date) -> date:
        raw = query.get(name, "").strip()
        if not raw:
            return default
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = f"expected a date YYYY-MM-DD, got {raw!r}"
            return default

    def number(name: str, default: int) -> int:
        raw = query.get(name, "").strip()
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            errors[name] = f"expected a whole number, got {raw!r}"
            return default

    until = day("until", today)
    since = day("since", until - timedelta(days=6))
    raw_days = query.getall("weekday", [])
    weekdays = frozenset(int(d) for d in raw_days if d.isdigit()) if raw_days else frozenset(range(7))
    if raw_days and len(weekdays) != len(raw_days):
        errors["weekdays"] = "expected weekday numbers 0 (Monday) to 6 (Sunday)"
    hour_from, hour_to = number("hour_from", 0), number("hour_to", 24)
    short = number("short_abandon_s", short_abandon_s)
    if errors:
        raise ValidationError(errors)
    return ReportFilter(since, until, step=query.get("step", "day"), weekdays=weekdays,
                        hour_from=hour_from, hour_to=hour_to, short_abandon_s=float(short))


@dataclass(frozen=True)
class Built:
    filter: ReportFilter
    calls: list[Table]
    cases: list[Table]
    total: reports_calls.Figures


def build(db: Any, flt: ReportFilter, lang: str, now: datetime) -> Built:
    """Both reports for one filter (runs off the event loop: a year of cases takes a second)."""
    cc = reports_calls.contact_center_report(db, flt, now=now)
    cases = reports_cases.case_report(db, flt.start, flt.end, now=now)
    return Built(flt, reports_export.call_tables(cc, lang),
                 reports_export.case_tables(cases, lang), cc.calls.total())


async def _built(request: web.Request) -> Built:
    desk = desk_of(request)
    today = utcnow().astimezone(WARSAW).date()
    flt = parse_filter(request.query, today, desk.settings.report_short_abandon_s)
    return await off_loop(build, desk.crm.db, flt, lang_of(request), utcnow())


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@requires(REPORT_ROLES)
async def reports_page(request: web.Request) -> web.StreamResponse:
    user = await current(request)
    try:
        built: Built | None = await _built(request)
        errors: dict[str, str] = {}
    except ValidationError as exc:
        built, errors = None, exc.fields
    query = request.query_string
    # A date field shows only a date (a browser cannot hold "30.11.2026" in it); the error
    # above the form names what was typed.
    typed = {name: value if _is_date(value := request.query.get(name, "")) else ""
             for name in ("since", "until")}
    response = render(request, "reports.html", user, built=built, errors=errors,
                      q=request.query, query=query, typed=typed, weekdays=range(7), steps=reports_calls.STEPS,
                      r=strings(lang_of(request)),
                      today=utcnow().astimezone(WARSAW).date())
    if errors:
        response.set_status(400)
    return response


@requires(REPORT_ROLES)
async def export_csv(request: web.Request) -> web.StreamResponse:
    name = request.match_info["table"]
    try:
        built = await _built(request)
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    table = next((t for t in (*built.calls, *built.cases) if t.name == name), None)
    if table is None:
        raise web.HTTPNotFound(text=f"no report table {name!r}")
    flt = built.filter
    filename = f"ckm-{name}-{flt.since.isoformat()}-{flt.until.isoformat()}.csv"
    return web.Response(body=reports_export.to_csv(table).encode("utf-8"),
                        content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@requires(REPORT_ROLES)
async def export_xlsx(request: web.Request) -> web.StreamResponse:
    try:
        built = await _built(request)
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    out = io.BytesIO()
    await off_loop(reports_export.to_xlsx, [*built.calls, *built.cases], out)
    flt = built.filter
    filename = f"ckm-reports-{flt.since.isoformat()}-{flt.until.isoformat()}.xlsx"
    return web.Response(body=out.getvalue(), content_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/export.xlsx", export_xlsx)
    app.router.add_get("/reports/export/{table}.csv", export_csv)
