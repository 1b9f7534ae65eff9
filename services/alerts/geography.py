"""Which wards and boroughs an alert's target touches, from data the alerts service loads
itself (geo owns the boundary sets, but alerts must know this before anything is published):

- the ward → borough map, from the ONS wards CSV that also defines identity's borough commands
  (``ALERTS_WARDS_CSV``);
- optionally, ward boundaries (``ALERTS_WARDS_GEOJSON``), to find the wards a circle or polygon
  touches. Without them a shape counts toward no ward or borough: its approval then rests on the
  ward and borough codes beside it, and it appears in no feed by shape.

The same files are what the targeting contract (``shared.targeting``) checks a target against:
its ward codes must be rows of the CSV, its borough codes boroughs of those rows, and its
points in Greater London (the outline of the ward boundaries when configured, else the
contract's box). A row without a borough is a known ward in no borough (partial data sets).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely import STRtree
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from services.alerts.config import AlertsSettings
from shared import targeting
from shared.targeting import KM_PER_DEGREE_LAT, KM_PER_DEGREE_LON


def _to_km(lon: float, lat: float) -> tuple[float, float]:
    return lon * KM_PER_DEGREE_LON, lat * KM_PER_DEGREE_LAT


def _coordinates_to_km(coordinates: Any) -> Any:
    """(lon, lat) rows of a shapely coordinate array, scaled as ``_to_km`` does."""
    return coordinates * (KM_PER_DEGREE_LON, KM_PER_DEGREE_LAT)


@dataclass(frozen=True)
class TouchedArea:
    ward_codes: frozenset[str]
    borough_codes: frozenset[str]


@dataclass(frozen=True)
class WardBoundaries:
    """Ward shapes in kilometres (see ``_to_km``), indexed for intersection queries."""

    codes: Sequence[str]
    shapes: Sequence[BaseGeometry]
    tree: STRtree = field(repr=False)

    def touched_by(self, area: BaseGeometry) -> set[str]:
        return {self.codes[i] for i in self.tree.query(area, predicate="intersects").tolist()}


@dataclass(frozen=True)
class Geography:
    ward_boroughs: Mapping[str, str]
    boundaries: WardBoundaries | None = None
    # What the targeting contract checks targets against (codes empty: nothing loaded).
    target_boundaries: targeting.Boundaries = field(default_factory=targeting.Boundaries)

    def borough_of(self, ward_code: str) -> str | None:
        return self.ward_boroughs.get(ward_code)

    def touched(
        self,
        *,
        ward_codes: Iterable[str],
        borough_codes: Iterable[str],
        circles: Iterable[Mapping[str, float]] = (),
        polygons: Iterable[Sequence[Sequence[float]]] = (),
    ) -> TouchedArea:
        wards = set(ward_codes)
        boroughs = set(borough_codes)
        if self.boundaries is not None:
            for circle in circles:
                centre = Point(_to_km(circle["lon"], circle["lat"]))
                wards |= self.boundaries.touched_by(centre.buffer(circle["radius_km"]))
            for ring in polygons:
                drawn = Polygon([_to_km(lon, lat) for lat, lon in ring])
                wards |= self.boundaries.touched_by(drawn if drawn.is_valid else drawn.buffer(0))
        boroughs |= {b for b in map(self.ward_boroughs.get, wards) if b is not None}
        return TouchedArea(ward_codes=frozenset(wards), borough_codes=frozenset(boroughs))


def ward_boroughs_from_csv(path: Path) -> dict[str, str]:
    """Ward code → borough code, from a CSV with ``code`` and ``borough_code`` columns."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            row["code"].strip(): row["borough_code"].strip()
            for row in csv.DictReader(handle)
            if row.get("code") and row.get("borough_code")
        }


def ward_codes_from_csv(path: Path) -> frozenset[str]:
    """Every ward code of the CSV, with or without a borough."""
    with path.open(newline="", encoding="utf-8") as handle:
        return frozenset(
            row["code"].strip() for row in csv.DictReader(handle) if (row.get("code") or "").strip()
        )


def ward_boundaries_from_geojson(
    path: Path,
) -> tuple[WardBoundaries, dict[str, str], BaseGeometry]:
    """Ward shapes, the ward → borough map their properties carry, and London's outline
    (longitude/latitude, the union of the wards)."""
    collection: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    codes: list[str] = []
    shapes: list[BaseGeometry] = []
    boroughs: dict[str, str] = {}
    degrees: list[BaseGeometry] = []
    for feature in collection["features"]:
        properties = feature["properties"]
        degrees.append(shape(feature["geometry"]))
        geometry = shapely.transform(degrees[-1], _coordinates_to_km)
        codes.append(properties["code"])
        shapes.append(geometry if geometry.is_valid else geometry.buffer(0))
        if properties.get("borough_code"):
            boroughs[properties["code"]] = properties["borough_code"]
    boundaries = WardBoundaries(codes=codes, shapes=shapes, tree=STRtree(shapes))
    return boundaries, boroughs, targeting.outline_of(degrees)


@lru_cache(maxsize=4)
def _load(csv_path: Path | None, geojson_path: Path | None) -> Geography:
    ward_boroughs: dict[str, str] = {}
    boundaries = None
    outline = None
    ward_codes: set[str] = set()
    if geojson_path is not None:
        boundaries, ward_boroughs, outline = ward_boundaries_from_geojson(geojson_path)
        ward_codes.update(boundaries.codes)
    if csv_path is not None:
        # The CSV is the authority on boroughs (identity builds its commands from it).
        ward_boroughs.update(ward_boroughs_from_csv(csv_path))
        ward_codes.update(ward_codes_from_csv(csv_path))
    return Geography(
        ward_boroughs=ward_boroughs,
        boundaries=boundaries,
        target_boundaries=targeting.Boundaries(
            ward_codes=frozenset(ward_codes),
            borough_codes=frozenset(ward_boroughs.values()),
            outline=outline,
        ),
    )


def geography_for(settings: AlertsSettings) -> Geography:
    """The configured geography, read once per process (the files are small and never change
    while it runs)."""
    return _load(settings.ward_boroughs_path(), settings.ward_boundaries_path())
