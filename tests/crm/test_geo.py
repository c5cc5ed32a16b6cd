"""The project's district polygons (crm_core.geo) and the map of reports' query: the drawing
tiles Warsaw (no gaps or overlaps inside the city, areas near the official ones), every case
point the tests and benchmarks record lies in its recorded district, and the point query's
filters (Warsaw days, category or subcategory, status) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.geo import outline
from crm_core.geo.case_points import MapFilter, as_json, case_points, district_counts, points_json
from crm_core.geo.districts import district_at, random_point, shapes
from crm_core.models import Case
from crm_core.services import cases
from crm_core.services.cases import Actor, NewCase
from crm_core.warsaw import DISTRICTS

# Points other tests and the benchmarks record with a district: the map must agree with them.
RECORDED = [
    ((52.1935, 21.0250), "Mokotów"), ((52.19, 21.01), "Mokotów"), ((52.20, 21.02), "Mokotów"),
    ((52.2254, 20.9941), "Ochota"), ((52.2400, 20.9941), "Wola"),
    # Landmarks: Palace of Culture, Old Town, Chopin Airport, Wilanów Palace, Stadion Narodowy,
    # Bródno cemetery, Kabaty forest, Marysin Wawerski, Stara Miłosna, Bemowo airfield.
    ((52.2318, 21.0060), "Śródmieście"), ((52.2497, 21.0122), "Śródmieście"),
    ((52.1657, 20.9671), "Włochy"), ((52.1650, 21.0900), "Wilanów"), ((52.2395, 21.0455), "Praga-Południe"),
    ((52.2900, 21.0450), "Targówek"), ((52.1160, 21.0500), "Ursynów"), ((52.2330, 21.1650), "Rembertów"),
    ((52.2250, 21.2300), "Wesoła"), ((52.2680, 20.9100), "Bemowo"),
]  # fmt: skip


def test_the_file_is_what_the_outline_draws() -> None:
    assert outline.GEOJSON.read_text(encoding="utf-8") == outline.render(), \
        "run python -m crm_core.geo.outline after changing the outline"
    data = json.loads(outline.GEOJSON.read_text(encoding="utf-8"))
    assert sorted(f["properties"]["name"] for f in data["features"]) == sorted(DISTRICTS)


def test_areas_are_near_the_official_ones() -> None:
    areas = {s.name: s.area_km2 for s in shapes()}
    for name, official in outline.OFFICIAL_KM2.items():
        assert abs(areas[name] - official) / official < 0.2, (name, areas[name], official)
    assert 500 < sum(areas.values()) < 535  # Warsaw: 517 km²


def test_every_point_of_the_city_has_exactly_one_district() -> None:
    """A grid over the city: no point in two districts (overlap), and the grid cells inside
    some district add up to the districts' summed area (no hole between neighbours)."""
    step_lat, step_lon = 0.0025, 0.004
    inside = 0
    lat = 52.09
    while lat < 52.38:
        lon = 20.84
        while lon < 21.28:
            owners = [s.name for s in shapes() if s.contains(lat, lon)]
            assert len(owners) <= 1, (lat, lon, owners)
            inside += len(owners)
            lon += step_lon
        lat += step_lat
    cell_km2 = step_lat * outline._KM_PER_DEG_LAT * step_lon * outline._KM_PER_DEG_LAT * 0.6129
    total = sum(s.area_km2 for s in shapes())
    assert abs(inside * cell_km2 - total) / total < 0.02


def test_neighbours_share_edges() -> None:
    near = outline.neighbours()
    assert {"Wola", "Ochota", "Mokotów", "Żoliborz", "Praga-Północ", "Praga-Południe"} <= near["Śródmieście"]
    assert near["Wesoła"] == {"Rembertów", "Wawer"}
    assert all(near[n] for n in DISTRICTS)
    tints = outline.tints()
    assert all(tints[a] != tints[b] for a in DISTRICTS for b in near[a])


@pytest.mark.parametrize(("point", "district"), RECORDED)
def test_recorded_points_lie_in_their_district(point: tuple[float, float], district: str) -> None:
    assert district_at(*point) == district


def test_generated_points_lie_in_their_district_and_outside_is_nowhere() -> None:
    rng = random.Random(15)
    for name in DISTRICTS:
        for _ in range(50):
            assert district_at(*random_point(name, rng)) == name
    assert district_at(52.40, 21.00) is None  # Legionowo's way
    assert district_at(52.23, 20.80) is None  # Ożarów


WARSAW_NOV = MapFilter(date(2026, 11, 1), date(2026, 11, 30))


def _case(db: Database, category: str, district: str, at: datetime,
          point: tuple[float, float] | None, status: str = "new") -> int:
    main, _, _ = category.partition(".")
    lat, lon = point if point else (None, None)
    draft = NewCase(main, f"{category} w {district}", subcategory=category if "." in category else None,
                    district=district, lat=lat, lon=lon, address="ul. Testowa 1")
    made = cases.create_case(db, draft, by=Actor("konsultant1"), at=at)
    if status != "new":
        with db.writing() as session:
            session.execute(sa.update(Case).where(Case.id == made.case.id).values(status=status))
    return made.case.id


def test_points_filtered_by_warsaw_days_category_and_status(seeded: Database) -> None:
    a = _case(seeded, "roads.pothole", "Mokotów", datetime(2026, 11, 10, 9, tzinfo=UTC), (52.19, 21.01))
    b = _case(seeded, "waste.bins", "Wola", datetime(2026, 11, 20, 9, tzinfo=UTC), (52.24, 20.96),
              "forwarded")
    _case(seeded, "roads", "Ochota", datetime(2026, 11, 15, 9, tzinfo=UTC), None)
    # 31 Oct 23:30 and 1 Dec 00:30 in Warsaw are outside November; 30 Nov 23:30 is inside.
    _case(seeded, "roads.pothole", "Mokotów", datetime(2026, 10, 31, 22, 30, tzinfo=UTC), (52.19, 21.02))
    e = _case(seeded, "roads.pothole", "Mokotów", datetime(2026, 11, 30, 22, 30, tzinfo=UTC), (52.2, 21.02))
    _case(seeded, "roads.pothole", "Mokotów", datetime(2026, 11, 30, 23, 30, tzinfo=UTC), (52.2, 21.03))

    found = case_points(seeded, WARSAW_NOV)
    assert sorted(p.case_id for p in found.points) == sorted([a, b, e])
    assert found.by_district == {"Mokotów": 2, "Wola": 1, "Ochota": 1} and found.total == 4
    assert not found.truncated
    first = next(p for p in found.points if p.case_id == b)
    assert (first.lat, first.lon, first.status, first.category, first.district) == (
        52.24, 20.96, "forwarded", "waste", "Wola")

    roads = case_points(seeded, MapFilter(WARSAW_NOV.since, WARSAW_NOV.until, category="roads"))
    assert sorted(p.case_id for p in roads.points) == sorted([a, e])
    assert roads.by_district == {"Mokotów": 2, "Ochota": 1}
    potholes = case_points(seeded, MapFilter(WARSAW_NOV.since, WARSAW_NOV.until, category="roads.pothole"))
    assert potholes.by_district == {"Mokotów": 2}
    forwarded = case_points(seeded, MapFilter(WARSAW_NOV.since, WARSAW_NOV.until, status="forwarded"))
    assert [p.case_id for p in forwarded.points] == [b]
    assert district_counts(seeded, MapFilter(WARSAW_NOV.since, WARSAW_NOV.until, status="new")) == {
        "Mokotów": 2, "Ochota": 1}
    newest = case_points(seeded, WARSAW_NOV, limit=2)
    assert newest.truncated and [p.case_id for p in newest.points] == [e, b]
    # The API's text (PostgreSQL writes the points' JSON itself) says the same as the rows.
    for flt, limit in ((WARSAW_NOV, 50_000), (WARSAW_NOV, 2), (WARSAW_NOV, 0),
                       (MapFilter(WARSAW_NOV.since, WARSAW_NOV.until, category="roads"), 50_000),
                       (MapFilter(WARSAW_NOV.since, WARSAW_NOV.until, status="closed"), 50_000)):
        expected = json.loads(json.dumps(as_json(flt, case_points(seeded, flt, limit=limit))))
        assert json.loads(points_json(seeded, flt, limit=limit)) == expected, (flt, limit)
    answer = json.loads(points_json(seeded, WARSAW_NOV))
    assert [row[2] for row in answer["points"]] == [e, b, a] and answer["total"] == 4
    assert answer["points"][1] == [52.24, 20.96, b, answer["points"][1][3], "forwarded", "waste", "Wola"]


def test_bad_filters_are_refused_with_the_field(seeded: Database) -> None:
    with pytest.raises(ValidationError) as caught:
        case_points(seeded, MapFilter(date(2026, 11, 2), date(2026, 11, 1)))
    assert "until" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        case_points(seeded, MapFilter(date(2025, 1, 1), date(2026, 11, 1)))
    assert "until" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        case_points(seeded, MapFilter(date(2026, 11, 1), date(2026, 11, 2), category="no.such"))
    assert "category" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        case_points(seeded, MapFilter(date(2026, 11, 1), date(2026, 11, 2), status="lost"))
    assert "status" in caught.value.fields
