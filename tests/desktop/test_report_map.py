"""The map of reports in Chromium: the 18 districts drawn from ckm's own GeoJSON (no tile
server), the month's cases as clusters whose counts add up, the heat layer's canvas, filters
that change the points and the table, and no console error (a CSP refusal would show there).
Screenshots land in var/test-artifacts/map/ for a human look."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from playwright.async_api import Page

from crm_core.geo.districts import district_at, random_point
from crm_core.services import cases, users
from crm_core.warsaw import DISTRICTS
from ground.settings import ROOT
from tests.desktop.live import LiveDesk, login

pytestmark = pytest.mark.browser
SHOTS = ROOT / "var" / "test-artifacts" / "map"


def _city(desk: LiveDesk) -> dict[str, dict[str, int]]:
    """Reports of the last four weeks in every district (more in the centre), plus one older
    report that the default period leaves out. Returns category → district → count."""
    rng = random.Random(19115)
    now = datetime.now(UTC)
    made: dict[str, dict[str, int]] = {"roads": {}, "waste": {}}
    for i, district in enumerate(DISTRICTS):
        for j in range(2 + (12 if district in ("Śródmieście", "Mokotów", "Wola") else i % 5)):
            category, sub = ("roads", "roads.pothole") if j % 3 else ("waste", "waste.bins")
            lat, lon = random_point(district, rng)
            cases.create_case(desk.db, cases.NewCase(
                category, f"Zgłoszenie {district} {j}", subcategory=sub, district=district,
                lat=lat, lon=lon, address="ul. Testowa 1"),
                by=cases.Actor("konsultant1"), at=now - timedelta(days=rng.uniform(0, 27)))
            made[category][district] = made[category].get(district, 0) + 1
    lat, lon = random_point("Bemowo", rng)
    cases.create_case(desk.db, cases.NewCase("roads", "Stare", district="Bemowo", lat=lat, lon=lon),
                      by=cases.Actor("konsultant1"), at=now - timedelta(days=60))
    return made


async def _drawn(page: Page) -> tuple[int, int]:
    """(points the page says it drew, points counted on the map: cluster counts + single markers)."""
    await page.wait_for_selector("#report-map[data-points]")
    await page.wait_for_selector("#report-map .marker-cluster, #report-map .case-point")
    told = int(await page.get_attribute("#report-map", "data-points") or "-1")
    counted = await page.evaluate("""() => {
      const sum = [...document.querySelectorAll('#report-map .marker-cluster span')]
        .reduce((s, e) => s + Number(e.textContent), 0);
      return sum + document.querySelectorAll('#report-map .leaflet-marker-pane .case-point').length;
    }""")
    return told, int(counted)


async def test_map_of_reports_draws_districts_clusters_heat_and_filters(desk: LiveDesk, page: Page) -> None:
    made = _city(desk)
    total = sum(sum(d.values()) for d in made.values())
    await login(page, desk.url, "kierownik")
    await page.goto("about:blank")  # login lands on the wallboard: its requests are not ours
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await page.set_viewport_size({"width": 1400, "height": 950})
    await page.goto(f"{desk.url}/reports/map")
    told, counted = await _drawn(page)
    assert told == counted == total

    names = await page.eval_on_selector_all("#report-map path.district",
                                            "ps => ps.map(p => p.dataset.district)")
    assert sorted(names) == sorted(DISTRICTS)
    labels = await page.eval_on_selector_all("#report-map .district-label",
                                             "ls => ls.map(l => l.textContent)")
    assert sorted(labels) == sorted(DISTRICTS)
    assert await page.locator("#report-map .marker-cluster").count() >= 3  # clustered, not 1 blob
    assert await page.locator("#report-map canvas.leaflet-heatmap-layer").count() == 1
    # The table (the map's text alternative) holds the same counts.
    for district in DISTRICTS:
        cell = page.locator(f"#district-table tr[data-district='{district}'] td").first
        want = made["roads"].get(district, 0) + made["waste"].get(district, 0)
        assert await cell.text_content() == str(want), district
    assert await page.text_content("#district-total") == str(total)
    assert str(total) in (await page.text_content("#map-summary") or "")
    await page.screenshot(path=str(SHOTS / "report-map-all.png"))

    # A category: fewer points, and the table follows.
    await page.select_option("#f-category", "waste")
    await page.wait_for_selector(f"#report-map[data-points='{sum(made['waste'].values())}']")
    told, counted = await _drawn(page)
    assert told == counted == sum(made["waste"].values())
    assert await page.text_content("#district-total") == str(sum(made["waste"].values()))
    assert "category=waste" in page.url
    # A status nobody has: an empty map, an empty table.
    await page.select_option("#f-status", "resolved")
    await page.wait_for_selector("#report-map[data-points='0']")
    drawn = page.locator("#report-map .marker-cluster, #report-map .leaflet-marker-pane .case-point")
    assert await drawn.count() == 0
    assert await page.text_content("#district-total") == "0"
    # A longer period takes in the old report.
    await page.select_option("#f-status", "")
    await page.select_option("#f-category", "")
    since = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    await page.fill("#f-since", since)
    await page.click("#f-show")
    await page.wait_for_selector(f"#report-map[data-points='{total + 1}']")
    # Layers on and off.
    await page.uncheck("#layer-heat")
    assert await page.locator("#report-map canvas.leaflet-heatmap-layer").count() == 0
    await page.uncheck("#layer-clusters")
    assert await page.locator("#report-map .marker-cluster").count() == 0
    await page.check("#layer-heat")
    await page.screenshot(path=str(SHOTS / "report-map-heat.png"))
    await page.check("#layer-clusters")
    # Zoomed in, a cluster splits into smaller ones and single points.
    biggest = page.locator("#report-map .marker-cluster-medium").first
    await biggest.click()
    await page.wait_for_selector("#report-map .leaflet-marker-pane .case-point")
    await page.wait_for_selector(
        "#report-map .leaflet-map-pane:not(.leaflet-zoom-anim):not(.leaflet-cluster-anim)",
        state="attached")  # the pane is a 0×0 box: never "visible"
    await page.screenshot(path=str(SHOTS / "report-map-zoomed.png"))

    assert problems == [], "\n".join(problems)
    foreign = [u for u in requested if not u.startswith(desk.url)]
    assert foreign == [], "the map must not reach any other host (tiles)"


async def test_bad_period_is_named_and_consultants_are_refused(desk: LiveDesk) -> None:
    supervisor = users.open_session(desk.db, users.get_user(desk.db, "kierownik").id)
    consultant = users.open_session(desk.db, users.get_user(desk.db, "konsultant1").id)
    async with aiohttp.ClientSession() as http:
        url = f"{desk.url}/reports/map/api/points"
        async with http.get(url, params={"since": "2026-11-02", "until": "2026-11-01"},
                            headers={"Cookie": f"ckm_session={supervisor}"}) as r:
            assert r.status == 422
            assert "until" in (await r.json())["errors"]
        async with http.get(url, params={"since": "yesterday"},
                            headers={"Cookie": f"ckm_session={supervisor}"}) as r:
            assert r.status == 422 and (await r.json())["errors"] == {"since": "a date as YYYY-MM-DD"}
        for path in ("/reports/map", "/reports/map/api/points"):
            async with http.get(desk.url + path, headers={"Cookie": f"ckm_session={consultant}"},
                                allow_redirects=False) as r:
                assert r.status == 403, path
        async with http.get(desk.url + "/static/geo/warsaw_districts.geojson") as r:
            assert r.status == 200 and len((await r.json())["features"]) == 18


async def test_consultant_sets_the_case_point_on_the_map(desk: LiveDesk, page: Page) -> None:
    """The desk's case form: a click on the map fills latitude and longitude and the empty
    district with the district under the click; arrow keys move the point; the case is saved
    with it."""
    await login(page, desk.url, "konsultant1")
    await page.select_option("#case-category", "roads.pothole")
    picker = page.locator("#case-map")
    await picker.scroll_into_view_if_needed()
    await page.wait_for_selector("#case-map path.district")
    assert await page.locator("#case-map path.district").count() == 18
    # Where the district's name is written (the name lets clicks through to the map).
    label = await page.locator("#case-map .district-label span", has_text="Mokotów").bounding_box()
    assert label is not None
    await page.mouse.click(label["x"] + label["width"] / 2, label["y"] + label["height"] / 2)
    await page.wait_for_selector("#case-map .case-point.picked")
    lat, lon = float(await page.input_value("#case-lat")), float(await page.input_value("#case-lon"))
    assert district_at(lat, lon) == "Mokotów"
    assert await page.input_value("#case-district") == "Mokotów"
    await page.wait_for_selector("#case-department:has-text('Zarząd Dróg Miejskich')")
    await picker.focus()
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowRight")
    assert float(await page.input_value("#case-lat")) == pytest.approx(lat + 0.002, abs=1e-5)
    assert float(await page.input_value("#case-lon")) == pytest.approx(lon + 0.002, abs=1e-5)
    await page.fill("#case-description", "Zapadnięta studzienka")
    await page.click("#case-save")
    await page.wait_for_selector("#case-result:has-text('Zapisano zgłoszenie')")
    newest = cases.list_cases(desk.db)[0]
    assert (newest.lat, newest.lon, newest.district) == (
        pytest.approx(lat + 0.002, abs=1e-5), pytest.approx(lon + 0.002, abs=1e-5), "Mokotów")
    await page.screenshot(path=str(SHOTS / "desk-case-map.png"), full_page=True)
