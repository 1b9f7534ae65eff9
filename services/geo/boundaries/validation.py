"""Checking a geography before anything is written: pure functions, no database.

Everything wrong is collected (up to a cap) so that whoever prepared the files can fix them in
one pass; one bad feature refuses the whole set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from services.geo.boundaries.schemas import ONS_CODE_PATTERN, FeatureCollection
from services.geo.errors import BoundarySetRefusedError, BoundarySetTooLargeError
from services.geo.models import NAME_LENGTH

MAX_PROBLEMS_LISTED = 50
AREA_GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
_ONS_CODE = re.compile(ONS_CODE_PATTERN)


@dataclass(frozen=True)
class ImportLimits:
    """Caps for untrusted input (the admin endpoint); the operator's command runs without."""

    max_features: int
    max_vertices: int


@dataclass(frozen=True)
class Area:
    """One checked borough or ward, ready to store."""

    code: str
    name: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    vertex_count: int
    borough_code: str | None = None


@dataclass(frozen=True)
class CheckedBoundaries:
    boroughs: list[Area]
    wards: list[Area]

    @property
    def vertex_count(self) -> int:
        return sum(area.vertex_count for area in (*self.boroughs, *self.wards))


class _Problems:
    def __init__(self) -> None:
        self.listed: list[str] = []
        self.count = 0

    def add(self, problem: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS_LISTED:
            self.listed.append(problem)

    def raise_if_any(self) -> None:
        if self.count:
            listed = self.listed
            if self.count > len(listed):
                listed = [*listed, f"... {self.count - len(listed)} more not listed"]
            raise BoundarySetRefusedError(listed)


def check_boundaries(
    boroughs: FeatureCollection, wards: FeatureCollection, limits: ImportLimits | None = None
) -> CheckedBoundaries:
    """Return the boroughs and wards ready to store, or raise :class:`BoundarySetRefusedError`
    (listing every problem) or :class:`BoundarySetTooLargeError`."""
    if limits is not None:
        _check_size("boroughs", boroughs, limits)
        _check_size("wards", wards, limits)
    problems = _Problems()
    checked_boroughs = _check_collection("boroughs", boroughs, ("code", "name"), problems)
    checked_wards = _check_collection("wards", wards, ("code", "name", "borough_code"), problems)
    # Every borough code given, valid or not, so that one bad borough is reported once rather
    # than again for each of its wards.
    borough_codes = {(feature.properties or {}).get("code") for feature in boroughs.features}
    for ward in checked_wards:
        if ward.borough_code not in borough_codes:
            problems.add(
                f"wards: ward {ward.code} ({ward.name}) names borough {ward.borough_code}, "
                "which is not among the boroughs"
            )
    problems.raise_if_any()
    return CheckedBoundaries(checked_boroughs, checked_wards)


def _check_size(label: str, collection: FeatureCollection, limits: ImportLimits) -> None:
    features = len(collection.features)
    if features > limits.max_features:
        raise BoundarySetTooLargeError(
            f"{label} has {features} features; at most {limits.max_features} are accepted here.",
            collection=label,
            features=features,
            max_features=limits.max_features,
        )
    vertices = sum(
        _count_positions((feature.geometry or {}).get("coordinates"))
        for feature in collection.features
    )
    if vertices > limits.max_vertices:
        raise BoundarySetTooLargeError(
            f"{label} has {vertices} vertices; at most {limits.max_vertices} are accepted here.",
            collection=label,
            vertices=vertices,
            max_vertices=limits.max_vertices,
        )


def _count_positions(coordinates: object) -> int:
    """Positions in any nesting of GeoJSON coordinate arrays; malformed parts count as none
    (they are reported properly later)."""
    if not isinstance(coordinates, list) or not coordinates:
        return 0
    if _is_number(coordinates[0]):
        return 1
    return sum(_count_positions(item) for item in coordinates)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_collection(
    label: str,
    collection: FeatureCollection,
    required: tuple[str, ...],
    problems: _Problems,
) -> list[Area]:
    if not collection.features:
        problems.add(f"{label} has no features")
    areas: list[Area] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(collection.features):
        where = f"{label}.features[{index}]"
        properties = feature.properties or {}
        code = properties.get("code")
        if isinstance(code, str) and code:
            where = f"{where} ({code})"
        area, geometry_problems = _read_geometry(feature.geometry)
        feature_problems = [*_property_problems(properties, required), *geometry_problems]
        if isinstance(code, str) and code in seen:
            feature_problems.append(f"code {code} is used by features[{seen[code]}] too")
        if isinstance(code, str):
            seen.setdefault(code, index)
        if feature_problems or area is None or feature.geometry is None:
            for problem in feature_problems:
                problems.add(f"{where}: {problem}")
            continue
        # Only the members an area needs: foreign members (bbox, crs, ...) are not kept.
        geometry = {
            "type": feature.geometry["type"],
            "coordinates": feature.geometry["coordinates"],
        }
        minx, miny, maxx, maxy = area.bounds
        areas.append(
            Area(
                code=properties["code"],
                name=properties["name"].strip(),
                geometry=geometry,
                bbox=(minx, miny, maxx, maxy),
                vertex_count=_count_positions(geometry["coordinates"]),
                borough_code=properties.get("borough_code") if "borough_code" in required else None,
            )
        )
    return areas


def _property_problems(properties: dict[str, Any], required: tuple[str, ...]) -> Iterable[str]:
    for key in required:
        value = properties.get(key)
        if value is None:
            yield f"the property {key!r} is missing"
        elif not isinstance(value, str):
            yield f"the property {key!r} must be a string, not {type(value).__name__}"
        elif key == "name":
            if not value.strip():
                yield "the property 'name' is empty"
            elif len(value.strip()) > NAME_LENGTH:
                yield f"the property 'name' is longer than {NAME_LENGTH} characters"
        elif not _ONS_CODE.match(value):
            yield f"the property {key!r} is {value[:20]!r}, not an ONS code like E05013806"


def _read_geometry(geometry: dict[str, Any] | None) -> tuple[BaseGeometry | None, list[str]]:
    """The shapely geometry of a valid Polygon or MultiPolygon, or the problems with it."""
    if geometry is None:
        return None, ["the geometry is missing"]
    geometry_type = geometry.get("type")
    if geometry_type not in AREA_GEOMETRY_TYPES:
        return None, [f"the geometry must be a Polygon or MultiPolygon, not {geometry_type!r}"]
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if geometry_type == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        return None, [f"the {geometry_type}'s coordinates are not a non-empty array"]
    # Shapely would quietly close an open ring or fail obscurely on a bad position; say
    # exactly what is wrong instead.
    structure = [problem for polygon in polygons for problem in _polygon_problems(polygon)]
    if structure:
        return None, structure[:3]
    try:
        area = shape(geometry)
    except (shapely.errors.ShapelyError, ValueError, TypeError, IndexError) as error:
        return None, [f"the geometry cannot be read: {error}"]
    if area.is_empty:
        return None, ["the geometry is empty"]
    if not area.is_valid:
        return None, [f"the geometry is not valid: {explain_validity(area)}"]
    return area, []


def _polygon_problems(polygon: object) -> Iterable[str]:
    if not isinstance(polygon, list) or not polygon:
        yield "a polygon is not a non-empty array of rings"
        return
    for ring in polygon:
        if not isinstance(ring, list) or len(ring) < 4:
            yield "a ring has fewer than 4 positions"
            continue
        for position in ring:
            if (
                not isinstance(position, list)
                or len(position) not in (2, 3)
                or not all(_is_number(value) for value in position)
            ):
                yield f"a position is not [longitude, latitude]: {str(position)[:40]}"
                return
            lon, lat = position[0], position[1]
            if not (math.isfinite(lon) and math.isfinite(lat)):
                yield "a position is not finite"
                return
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                yield f"the position {position} is outside WGS84 longitude/latitude"
                return
        if ring[0] != ring[-1]:
            yield f"a ring is not closed: it starts at {ring[0]} and ends at {ring[-1]}"
