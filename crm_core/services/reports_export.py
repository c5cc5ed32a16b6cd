"""The reports as tables: what the page shows, the CSV and XLSX files and the monthly report
hold are the same `Table`s, so a figure cannot differ between them.

Rules: `report_tables` is pure (reports in, tables out, Polish or English headers); `to_csv` and
`to_xlsx` only write them. Numbers stay numbers (a service level of 0.8512 is 85.12 in a
"%" column); a figure with nothing to measure (no call answered, so no ASA) is empty.
XLSX is written by openpyxl in write-only mode (rows streamed: a year of figures is a few
thousand rows, and memory stays flat whatever the size).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from crm_core.services.reports_calls import TOTAL, ContactCenterReport, Figures
from crm_core.services.reports_cases import DIMENSIONS, CaseFigures, CaseReport

Cell = str | int | float | None

# column key → (pl, en)
LABELS: dict[str, tuple[str, str]] = {
    "bucket": ("Okres", "Period"),
    "queue": ("Kolejka", "Queue"),
    "language": ("Język", "Language"),
    "offered": ("Oferowane", "Offered"),
    "answered": ("Odebrane", "Answered"),
    "answered_in_sl": ("Odebrane w progu", "Answered within threshold"),
    "abandoned": ("Porzucone", "Abandoned"),
    "short_abandoned": ("Porzucone krótkie", "Short abandoned"),
    "service_level": ("Poziom obsługi %", "Service level %"),
    "abandoned_pct": ("Porzucone %", "Abandoned %"),
    "asa_s": ("ASA s", "ASA s"),
    "avg_wait_s": ("Średnie czekanie s", "Average wait s"),
    "p90_wait_s": ("Czekanie p90 s", "Wait p90 s"),
    "aht_s": ("AHT s", "AHT s"),
    "talk_s": ("Rozmowa s", "Talk s"),
    "hold_s": ("Zawieszenie s", "Hold s"),
    "wrapup_s": ("Po rozmowie s", "Wrap-up s"),
    "transfers": ("Przełączenia", "Transfers"),
    "callbacks_requested": ("Oddzwonienia zamówione", "Callbacks requested"),
    "callbacks_made": ("Oddzwonienia wykonane", "Callbacks made"),
    "callbacks_reached": ("Oddzwonienia skuteczne", "Callbacks reached"),
    "self_service": ("Samoobsługa IVR", "IVR self-service"),
    "agent": ("Konsultant", "Agent"),
    "logged_in_s": ("Zalogowany s", "Logged in s"),
    "available_s": ("Gotowy s", "Ready s"),
    "reserved_s": ("Dzwoni s", "Ringing s"),
    "on_call_s": ("Rozmowa s", "On call s"),
    "wrap_up_s": ("Po rozmowie s", "Wrap-up s"),
    "paused_s": ("Przerwa s", "Paused s"),
    "pauses": ("Przerwy wg powodu s", "Pauses by reason s"),
    "handled": ("Obsłużone", "Handled"),
    "unanswered_offers": ("Nieodebrane oferty", "Unanswered offers"),
    "key": ("Wartość", "Value"),
    "cases": ("Zgłoszenia", "Cases"),
    "open": ("Otwarte", "Open"),
    "forward_p50_h": ("Do przekazania p50 h", "To forward p50 h"),
    "forward_p90_h": ("Do przekazania p90 h", "To forward p90 h"),
    "resolve_p50_h": ("Do załatwienia p50 h", "To resolve p50 h"),
    "resolve_p90_h": ("Do załatwienia p90 h", "To resolve p90 h"),
    "on_time_pct": ("W terminie %", "On time %"),
    "returned": ("Zwrócone", "Returned"),
    "reassigned": ("Przekazane dalej", "Reassigned"),
    "duplicates": ("Duplikaty", "Duplicates"),
    "age": ("Wiek", "Age"),
    "measure": ("Miara", "Measure"),
    "value": ("Wartość", "Value"),
    "total": ("Razem", "Total"),
}
TITLES: dict[str, tuple[str, str]] = {
    "queues": ("Kolejki w okresie", "Queues over the period"),
    "intervals": ("Przedziały", "Intervals"),
    "languages": ("Według języka", "By language"),
    "agents": ("Konsultanci", "Agents"),
    "cases_category": ("Zgłoszenia wg kategorii", "Cases by category"),
    "cases_subcategory": ("Zgłoszenia wg podkategorii", "Cases by subcategory"),
    "cases_district": ("Zgłoszenia wg dzielnicy", "Cases by district"),
    "cases_channel": ("Zgłoszenia wg kanału", "Cases by channel"),
    "cases_department": ("Zgłoszenia wg jednostki", "Cases by department"),
    "backlog": ("Zaległość wg wieku", "Backlog by age"),
    "repeat_callers": ("Dzwoniący wielokrotnie", "Repeat callers"),
}
CALL_COLUMNS = ("offered", "answered", "answered_in_sl", "abandoned", "short_abandoned",
                "service_level", "abandoned_pct", "asa_s", "avg_wait_s", "p90_wait_s", "aht_s",
                "talk_s", "hold_s", "wrapup_s", "transfers", "callbacks_requested",
                "callbacks_made", "callbacks_reached", "self_service")
CASE_COLUMNS = ("cases", "open", "forward_p50_h", "forward_p90_h", "resolve_p50_h",
                "resolve_p90_h", "on_time_pct", "returned", "reassigned", "duplicates")
STATES = ("available", "reserved", "on_call", "wrap_up", "paused")


@dataclass(frozen=True)
class Table:
    name: str  # file and sheet name
    title: str
    keys: tuple[str, ...]
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _table(name: str, keys: Sequence[str], rows: Sequence[Sequence[Cell]], lang: str) -> Table:
    i = 1 if lang == "en" else 0
    return Table(name, TITLES[name][i], tuple(keys), tuple(LABELS[k][i] for k in keys),
                 tuple(tuple(r) for r in rows))


def _call_cells(f: Figures) -> list[Cell]:
    out: list[Cell] = []
    for key in CALL_COLUMNS:
        value = getattr(f, key)
        if key == "service_level" and value is not None:
            value = round(100 * value, 2)
        out.append(value)
    return out


def _case_cells(f: CaseFigures) -> list[Cell]:
    return [getattr(f, k) for k in CASE_COLUMNS]


def call_tables(report: ContactCenterReport, lang: str) -> list[Table]:
    total = LABELS["total"][1 if lang == "en" else 0]

    def queue_name(q: str) -> str:
        return total if q == TOTAL else q

    calls = report.calls
    agents = [[a.agent, a.logged_in_s, *(a.by_state_s.get(s, 0.0) for s in STATES),
               "; ".join(f"{r} {v:g}" for r, v in a.by_pause_reason_s.items()),
               a.handled, a.aht_s, a.unanswered_offers] for a in report.agents]
    return [
        _table("queues", ("queue", *CALL_COLUMNS),
               [[queue_name(f.queue), *_call_cells(f)] for f in calls.period], lang),
        _table("intervals", ("bucket", "queue", *CALL_COLUMNS),
               [[f.bucket, queue_name(f.queue), *_call_cells(f)] for f in calls.rows], lang),
        _table("languages", ("language", *CALL_COLUMNS),
               [[f.queue, *_call_cells(f)] for f in calls.languages], lang),
        _table("agents", ("agent", "logged_in_s", *(f"{s}_s" for s in STATES), "pauses",
                          "handled", "aht_s", "unanswered_offers"), agents, lang),
    ]


def case_tables(report: CaseReport, lang: str) -> list[Table]:
    i = 1 if lang == "en" else 0
    total = [LABELS["total"][i], *_case_cells(report.total)]
    out = [_table(f"cases_{d}", ("key", *CASE_COLUMNS),
                  [*([f.key, *_case_cells(f)] for f in report.by[d]), total], lang)
           for d in DIMENSIONS]
    out.append(_table("backlog", ("age", "open"), list(report.backlog.items()), lang))
    rc = report.repeat_callers
    measures = {"pl": ("mieszkańcy dzwoniący więcej niż raz", "ich połączenia",
                       "połączenia rozpoznanych mieszkańców"),
                "en": ("residents who called more than once", "their calls",
                       "calls of identified residents")}["en" if lang == "en" else "pl"]
    out.append(_table("repeat_callers", ("measure", "value"),
                      list(zip(measures, (rc.residents, rc.calls, rc.all_calls), strict=True)),
                      lang))
    return out


def to_csv(table: Table) -> str:
    """One table as CSV (comma-separated, a header row, '.' decimals, UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def to_xlsx(tables: Sequence[Table], target: Path | io.BytesIO) -> None:
    """Every table on its own sheet, a title row above the headers."""
    book = Workbook(write_only=True)
    for table in tables:
        sheet = book.create_sheet(table.name[:31])
        sheet.append([table.title])
        sheet.append(list(table.headers))
        for row in table.rows:
            sheet.append(list(row))
    book.save(target)
