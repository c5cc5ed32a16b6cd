"""Which Warsaw district a point lies in, from the project's own district polygons
(crm_core/geo/warsaw_districts.geojson, drawn by crm_core.geo.outline).

Rules:
- A point on a shared edge belongs to one district only (the ray-casting test is half-open), so
  every point of the city has exactly one district and a point outside the city limit has none.
- The file is read once; nothing here touches the database.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from functools import cache

from crm_core.geo.outline import GEOJSON


@dataclass(frozen=True)
class DistrictShape:
    name: str
    ring: tuple[tuple[float, float], ...]  # (lon, lat), closed
    area_km2: float

    def contains(self, lat: float, lon: float) -> bool:
        inside = False
        ring = self.ring
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if (y1 > lat) != (y2 > lat):
                crossing = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
                if lon < crossing:
                    inside = not inside
        return inside

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(south, west, north, east)."""
        lons = [p[0] for p in self.ring]
        lats = [p[1] for p in self.ring]
        return min(lats), min(lons), max(lats), max(lons)


@cache
def shapes() -> tuple[DistrictShape, ...]:
    data = json.loads(GEOJSON.read_text(encoding="utf-8"))
    found = []
    for feature in data["features"]:
        ring = tuple((float(lon), float(lat)) for lon, lat in feature["geometry"]["coordinates"][0])
        props = feature["properties"]
        found.append(DistrictShape(props["name"], ring, float(props["area_km2"])))
    return tuple(found)


def district_at(lat: float, lon: float) -> str | None:
    """The district containing the point, or None outside Warsaw."""
    for shape in shapes():
        if shape.contains(lat, lon):
            return shape.name
    return None


def geojson_text() -> str:
    """The districts file as served to the browsers' maps."""
    return GEOJSON.read_text(encoding="utf-8")


def random_point(name: str, rng: random.Random) -> tuple[float, float]:
    """A point (lat, lon) uniformly inside district `name`: how generated cities (benchmarks,
    tests, demos) place their reports so the point and the recorded district agree."""
    shape = next(s for s in shapes() if s.name == name)
    south, west, north, east = shape.bounds
    for _ in range(10_000):
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        if shape.contains(lat, lon):
            return round(lat, 6), round(lon, 6)
    raise ValueError(f"no point found inside {name}")
