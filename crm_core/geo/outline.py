"""Warsaw's 18 districts drawn for ckm: simplified polygons built from a table of shared points.

Rules:
- Every boundary point is named once in NODES (latitude, longitude; WGS 84) and each district is
  a ring of node names, so two neighbours share exactly the same edge (no gaps, no overlaps) and
  the outer ring is the city limit.
- The points are approximate public facts (the Vistula's course, bridges, district corners and
  extents) placed by hand for this project: good for a map of reports and for telling which
  district a point lies in, not a survey. The districts' areas come out near the official ones
  (the city ≈ 517 km²; tests/crm/test_geo.py checks every district and the total).
- `python -m crm_core.geo.outline` writes crm_core/geo/web/warsaw_districts.geojson, the file the
  CRM and the browsers read; a test fails when the file and this table disagree.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# Served as is to the browsers (with the shared map module beside it) by the desk and the portal.
GEOJSON = Path(__file__).with_name("web") / "warsaw_districts.geojson"

# name → (lat, lon). V*: the Vistula from the north; J*: left-bank corners; P*: right-bank corners;
# the rest: points of the city limit.
NODES: dict[str, tuple[float, float]] = {
    # The Vistula, downstream is north-west: city limit at Łomianki/Jabłonna to Konstancin/Józefów.
    "V0": (52.338, 20.938), "V1": (52.302, 20.966), "V2": (52.284, 20.982), "V3": (52.260, 21.002),
    "V4": (52.243, 21.026), "V5": (52.215, 21.050), "V6": (52.207, 21.090), "V7": (52.180, 21.100),
    "V8": (52.150, 21.118), "VS": (52.120, 21.145),
    # Left bank, the city limit from the north, west and south.
    "B1": (52.322, 20.905), "B2": (52.300, 20.885), "BB": (52.2850, 20.8800),
    "E1": (52.2700, 20.8680), "E2": (52.2450, 20.8660), "EU": (52.2220, 20.8660),
    "U1": (52.2000, 20.8660), "U2": (52.1850, 20.8780), "UW": (52.178, 20.895),
    "W1": (52.1650, 20.9120), "W2": (52.1500, 20.9350), "W3": (52.1480, 20.9620),
    "R1": (52.1200, 20.9650), "R2": (52.100, 20.985), "R3": (52.097, 21.030), "RW": (52.100, 21.062),
    "L1": (52.103, 21.100), "L2": (52.112, 21.130),
    # Left bank, where districts meet.
    "Z2": (52.2830, 20.9520), "J1": (52.264, 20.946), "J2": (52.2660, 20.9570),
    "J3": (52.2500, 20.9800), "J4": (52.240, 20.999), "J5": (52.2262, 20.9975),
    "PZ": (52.2258, 20.9870), "J6": (52.2120, 20.9350), "J7": (52.222, 20.918),
    "J8": (52.218, 20.895), "BW": (52.240, 20.930), "BE": (52.270, 20.910),
    "UO": (52.200, 20.905), "J9": (52.1920, 20.9580), "J10": (52.2080, 21.0040),
    "BL": (52.2030, 21.0320), "MW": (52.178, 20.975), "WUM": (52.1650, 20.9850),
    "MU": (52.1630, 21.0300), "MUW": (52.165, 21.056), "MV": (52.180, 21.075),
    "UV": (52.130, 21.062),
    # Right bank, the city limit from the north round to the south-east.
    "K1": (52.355, 20.955), "K2": (52.3700, 20.9900), "K3": (52.3680, 21.0350), "K4": (52.3520, 21.0700),
    "K5": (52.3300, 21.0900), "BT": (52.3050, 21.0880), "T1": (52.2900, 21.1050), "T2": (52.2750, 21.1180),
    "TR": (52.2700, 21.1250), "M1": (52.280, 21.160), "RS": (52.2700, 21.1900),
    "S1": (52.2640, 21.2250), "S2": (52.2450, 21.2550), "S3": (52.2250, 21.2500), "S4": (52.2120, 21.2280),
    "WW": (52.205, 21.215), "A1": (52.1900, 21.2350), "A2": (52.1600, 21.2280), "A3": (52.140, 21.205),
    "A4": (52.133, 21.175),
    # Right bank, where districts meet.
    "P0": (52.292, 21.005), "P1": (52.2880, 21.0280), "PB": (52.2930, 21.0620), "P2": (52.2630, 21.0360),
    "P3": (52.252, 21.050), "PT": (52.255, 21.090), "P4": (52.2570, 21.1150), "P5": (52.2360, 21.1250),
    "PW": (52.2180, 21.1050), "P6": (52.2280, 21.1780),
}  # fmt: skip

# district → its ring of nodes (either direction; closed by the builder).
RINGS: dict[str, tuple[str, ...]] = {
    "Bielany": ("V0", "V1", "V2", "Z2", "J2", "J1", "BE", "BB", "B2", "B1"),
    "Żoliborz": ("V2", "V3", "J3", "J2", "Z2"),
    "Bemowo": ("BB", "BE", "J1", "BW", "J7", "J8", "EU", "E2", "E1"),
    "Wola": ("J1", "J2", "J3", "J4", "J5", "PZ", "J6", "J7", "BW"),
    "Śródmieście": ("J3", "V3", "V4", "V5", "BL", "J10", "J5", "J4"),
    "Ochota": ("PZ", "J5", "J10", "J9", "J6"),
    "Ursus": ("EU", "J8", "UO", "UW", "U2", "U1"),
    "Włochy": ("J8", "J7", "J6", "J9", "MW", "WUM", "W3", "W2", "W1", "UW", "UO"),
    "Mokotów": ("J10", "BL", "V5", "V6", "V7", "MV", "MUW", "MU", "WUM", "MW", "J9"),
    "Ursynów": ("WUM", "MU", "MUW", "UV", "RW", "R3", "R2", "R1", "W3"),
    "Wilanów": ("MUW", "MV", "V7", "V8", "VS", "L2", "L1", "RW", "UV"),
    "Białołęka": ("V0", "K1", "K2", "K3", "K4", "K5", "BT", "PB", "P1", "P0", "V2", "V1"),
    "Praga-Północ": ("V2", "P0", "P1", "P2", "P3", "V4", "V3"),
    "Targówek": ("P1", "PB", "BT", "T1", "T2", "TR", "P4", "PT", "P3", "P2"),
    "Praga-Południe": ("V4", "P3", "PT", "P4", "P5", "PW", "V6", "V5"),
    "Rembertów": ("P4", "TR", "M1", "RS", "P6", "P5"),
    "Wesoła": ("RS", "S1", "S2", "S3", "S4", "WW", "P6"),
    "Wawer": ("V6", "PW", "P5", "P6", "WW", "A1", "A2", "A3", "A4", "VS", "V8", "V7"),
}

# Official areas in km² (Warsaw's statistics office, rounded): what the drawing is checked against.
OFFICIAL_KM2: dict[str, float] = {
    "Bemowo": 24.95, "Białołęka": 73.04, "Bielany": 32.34, "Mokotów": 35.42, "Ochota": 9.72,
    "Praga-Południe": 22.38, "Praga-Północ": 11.42, "Rembertów": 19.30, "Śródmieście": 15.57,
    "Targówek": 24.22, "Ursus": 9.35, "Ursynów": 43.79, "Wawer": 79.71, "Wesoła": 22.60,
    "Wilanów": 36.73, "Włochy": 28.63, "Wola": 19.26, "Żoliborz": 8.47,
}  # fmt: skip

_KM_PER_DEG_LAT = 111.2


def ring_km2(points: list[tuple[float, float]]) -> float:
    """Area of a ring of (lat, lon) in km² (a local equirectangular plane: fine at city size)."""
    lat0 = sum(p[0] for p in points) / len(points)
    kx = _KM_PER_DEG_LAT * math.cos(math.radians(lat0))
    xy = [(lon * kx, lat * _KM_PER_DEG_LAT) for lat, lon in points]
    twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(xy, xy[1:] + xy[:1], strict=True))
    return abs(twice) / 2


def _counter_clockwise(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    # GeoJSON (RFC 7946) wants exterior rings counter-clockwise in lon/lat.
    twice = sum(a[1] * b[0] - b[1] * a[0] for a, b in zip(points, points[1:] + points[:1], strict=True))
    return points if twice > 0 else points[::-1]


def neighbours() -> dict[str, set[str]]:
    """Districts sharing an edge (two consecutive nodes) with each district."""
    edges: dict[frozenset[str], set[str]] = {}
    for name, ring in RINGS.items():
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            edges.setdefault(frozenset((a, b)), set()).add(name)
    found: dict[str, set[str]] = {name: set() for name in RINGS}
    for owners in edges.values():
        for name in owners:
            found[name] |= owners - {name}
    return found


def tints() -> dict[str, int]:
    """A colour index per district, different from every neighbour's (greedy, biggest first)."""
    near = neighbours()
    chosen: dict[str, int] = {}
    for name in sorted(RINGS, key=lambda n: (-len(near[n]), n)):
        taken = {chosen[n] for n in near[name] if n in chosen}
        chosen[name] = min(i for i in range(len(RINGS)) if i not in taken)
    return chosen


def feature_collection() -> dict[str, Any]:
    features = []
    tint = tints()
    for name in sorted(RINGS):
        points = _counter_clockwise([NODES[n] for n in RINGS[name]])
        ring = [[lon, lat] for lat, lon in points]
        features.append({
            "type": "Feature",
            "properties": {"name": name, "area_km2": round(ring_km2(points), 2), "tint": tint[name]},
            "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        })
    return {"type": "FeatureCollection", "name": "warsaw_districts", "features": features}


def render() -> str:
    return json.dumps(feature_collection(), ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    GEOJSON.write_text(render(), encoding="utf-8")
    total = 0.0
    for feature in feature_collection()["features"]:
        props = feature["properties"]
        total += props["area_km2"]
        official = OFFICIAL_KM2[props["name"]]
        print(f"{props['name']:<16}{props['area_km2']:>8.2f} km²  (official {official:.2f})")
    print(f"{'Warsaw':<16}{total:>8.2f} km²  (official 517.24)")
