"""The reports page in Chromium: a supervisor picks a day, sees the figures, the charts drawn
from their tables, downloads CSV and XLSX and they hold the numbers the page shows; a consultant
is refused; a bad date is named, not guessed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page

from crm_core.models import utcnow
from crm_core.services import cases, reports_calls
from tests.crm.test_reports_calls import DAY, at, record_day
from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser


async def table_cells(page: Page, table_id: str) -> list[list[str]]:
    return await page.eval_on_selector(
        f"#{table_id}",
        "t => [...t.rows].map(r => [...r.cells].map(c => c.textContent.trim()))")


def as_text(value: object) -> str:
    return "—" if value in (None, "") else str(value)


def as_value(text: str) -> float | str:
    """A cell as a number when it is one: XLSX keeps 40.0 as the number 40."""
    try:
        return float(text)
    except ValueError:
        return text


def values(rows: list[list[str]]) -> list[list[float | str]]:
    return [[as_value(v) for v in row] for row in rows]


async def test_a_supervisor_reads_a_day_and_downloads_it(desk: LiveDesk, page: Page,
                                                         tmp_path: Path) -> None:
    record_day(desk.db)
    for district, hour in (("Mokotów", 8), ("Mokotów", 9), ("Wola", 10)):
        cases.create_case(desk.db, cases.NewCase("roads", f"Dziura {hour}",
                                                 subcategory="roads.pothole",
                                                 address="Puławska 1", district=district),
                          by=cases.Actor("kierownik"), at=at(hour, 0))
    expected = reports_calls.contact_center_report(
        desk.db, reports_calls.ReportFilter(DAY, DAY, step="hour"), now=utcnow()).calls.total()
    assert (expected.offered, expected.answered, expected.abandoned) == (6, 4, 2)

    await login(page, desk.url, "kierownik")
    await page.click("nav[aria-label='menu'] a[href='/reports']")
    await page.wait_for_selector("form.report-filter")
    await page.fill("#since", DAY.isoformat())
    await page.fill("#until", DAY.isoformat())
    await page.select_option("#step", "hour")
    async with page.expect_navigation():
        await page.click("form.report-filter button[type=submit]")
    assert "since=2026-11-30" in page.url
    queues = await table_cells(page, "t-queues")
    header, total = queues[0], queues[-1]
    assert total[0] == "Razem"
    shown = dict(zip(header, total, strict=True))
    assert (shown["Oferowane"], shown["Odebrane"], shown["Porzucone"]) == ("6", "4", "2")
    assert shown["Poziom obsługi %"] == as_text(round(100 * (expected.service_level or 0), 2))
    assert shown["ASA s"] == as_text(expected.asa_s)
    assert "Poziom obsługi = odebrane w progu" in (await page.text_content("#def-sl") or "")
    # The charts are drawn from the tables: one point per interval, one bar per district.
    await page.wait_for_selector("#chart-calls[data-drawn='4']", state="attached")
    await page.wait_for_selector("#chart-districts[data-drawn='2']", state="attached")
    districts = await table_cells(page, "t-cases_district")
    assert [row[:2] for row in districts[1:]] == [["Mokotów", "2"], ["Wola", "1"], ["Razem", "3"]]
    await shot(page, "reports-day")

    # CSV of the queues table: the same cells as the page.
    async with page.expect_download() as csv_download:
        await page.click("#s-queues a.download")
    csv_path = tmp_path / "queues.csv"
    await (await csv_download.value).save_as(csv_path)
    with csv_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert [[as_text(v) for v in row] for row in rows] == queues

    # XLSX: every table on its sheet, numbers as numbers, the same as the page.
    async with page.expect_download() as xlsx_download:
        await page.click("#xlsx")
    xlsx_path = tmp_path / "reports.xlsx"
    await (await xlsx_download.value).save_as(xlsx_path)
    book = load_workbook(xlsx_path, read_only=True)
    sheet = [list(r) for r in book["queues"].iter_rows(values_only=True)]
    assert sheet[0][0] == "Kolejki w okresie"  # the title row
    assert values([[as_text(v) for v in row] for row in sheet[1:]]) == values(queues)
    assert isinstance(sheet[-1][1], int) and sheet[-1][1] == 6
    intervals = [list(r) for r in book["intervals"].iter_rows(values_only=True)][1:]
    # headers; 00 h, 08 h: ogolna and the total; 09 h: both queues and the total; 10 h:
    # transport (a callback made) and the total
    assert len(intervals) == 1 + 2 + 2 + 3 + 2
    assert values([[as_text(v) for v in row] for row in intervals]) == values(
        await table_cells(page, "t-intervals"))
    book.close()


async def test_a_bad_date_is_named_and_a_consultant_is_refused(desk: LiveDesk, page: Page) -> None:
    await login(page, desk.url, "kierownik")
    response = await page.goto(f"{desk.url}/reports?since=30.11.2026&step=week")
    assert response is not None and response.status == 400
    alert = await page.text_content("#report-errors") or ""
    assert "since: expected a date YYYY-MM-DD, got '30.11.2026'" in alert
    assert await page.locator("#t-queues").count() == 0  # no figures for a guessed date
    await page.context.clear_cookies()
    await login(page, desk.url, "konsultant1")
    for path in ("/reports", "/reports/export.xlsx", "/reports/export/queues.csv"):
        refused = await page.request.get(f"{desk.url}{path}")
        assert refused.status == 403, path


async def test_the_reports_in_english(desk: LiveDesk, page: Page) -> None:
    """A supervisor who switched the desk to English reads the same day in English: the
    page's words, the statement of the service-level formula, the tables' headers and total,
    and the charts named in English, each with its table behind it (the accessible text)."""
    record_day(desk.db)
    cases.create_case(desk.db, cases.NewCase("roads", "Dziura", subcategory="roads.pothole",
                                             address="Puławska 1", district="Mokotów"),
                      by=cases.Actor("kierownik"), at=at(8, 0))
    expected = reports_calls.contact_center_report(
        desk.db, reports_calls.ReportFilter(DAY, DAY, step="hour"), now=utcnow()).calls.total()
    await login(page, desk.url, "kierownik")
    async with page.expect_navigation():
        await page.click("a.lang")  # "English", the switch every desk page has
    await page.goto(f"{desk.url}/reports?since={DAY.isoformat()}&until={DAY.isoformat()}"
                    "&step=hour")
    assert await page.get_attribute("html", "lang") == "en"
    assert (await page.text_content("main.reports h1") or "").strip() == "Reports"
    tabs = [t.strip() for t in await page.locator("nav.report-tabs a").all_text_contents()]
    assert tabs == ["Calls", "Agents", "Cases", "Map of reports"]
    assert (await page.text_content("label[for=step]") or "").strip() == "Interval"
    assert (await page.text_content("#step option[selected]") or "").strip() == "hour"
    assert (await page.text_content("#xlsx") or "").strip() == "Download all (XLSX)"
    await page.click("details.definitions summary")
    assert (await page.text_content("details.definitions summary") or "").strip() == (
        "How figures are counted")
    formula = await page.inner_text("#def-sl")
    assert formula.startswith("Service level = answered within the queue's threshold / "
                              "(answered + abandoned − short abandoned).")
    assert "With a short-abandon threshold of 0 s it is the wallboard's figure." in formula

    queues = await table_cells(page, "t-queues")
    header, total = queues[0], queues[-1]
    assert header[:5] == ["Queue", "Offered", "Answered", "Answered within threshold",
                          "Abandoned"]
    assert "Service level %" in header and "IVR self-service" in header
    assert total[0] == "Total"
    shown = dict(zip(header, total, strict=True))
    assert (shown["Offered"], shown["Answered"], shown["Abandoned"]) == ("6", "4", "2")
    assert shown["Service level %"] == as_text(round(100 * (expected.service_level or 0), 2))
    assert await page.get_attribute("#t-queues caption", "class") == "visually-hidden"
    assert (await page.text_content("#t-queues caption") or "").strip() == "Queues over the period"
    assert await page.get_attribute("#s-queues .table-wrap", "aria-label") == (
        "Table: Queues over the period")
    assert (await page.text_content("#s-queues a.download") or "").strip() == (
        "CSV — Queues over the period")

    # The charts: named in English, drawn from the tables behind them, series named by the
    # tables' English headers.
    calls_chart = page.locator("#chart-calls")
    assert await calls_chart.get_attribute("role") == "img"
    assert await calls_chart.get_attribute("aria-label") == (
        "Chart: calls offered, answered and abandoned per interval; service level. "
        "The data is in the table below.")
    assert await calls_chart.get_attribute("data-table") == "t-intervals"
    await page.wait_for_selector("#chart-calls[data-drawn='4']", state="attached")
    intervals = await table_cells(page, "t-intervals")
    assert intervals[0][:2] == ["Period", "Queue"] and len(intervals) == 1 + 2 + 2 + 3 + 2
    series = await page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-calls')).data.datasets"
        ".map(d => d.label)")
    assert set(series) <= set(intervals[0]) and "Service level %" in series
    assert "Offered" in series and "Answered" in series and "Abandoned" in series
    districts_chart = page.locator("#chart-districts")
    assert await districts_chart.get_attribute("aria-label") == (
        "Chart: cases by district. The data is in the table below.")
    await page.wait_for_selector("#chart-districts[data-drawn='1']", state="attached")
    districts = await table_cells(page, "t-cases_district")
    assert districts[0][:2] == ["Value", "Cases"]
    assert [row[:2] for row in districts[1:]] == [["Mokotów", "1"], ["Total", "1"]]
    assert (await page.text_content("#h-cases_district") or "").strip() == "Cases by district"
    await shot(page, "reports-day-en")
