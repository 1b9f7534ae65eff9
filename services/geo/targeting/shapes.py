"""Areas members watch and officers target: circles and drawn polygons, checked before use.

Everything that can be wrong with untrusted geometry is refused here with
:class:`InvalidAreaError` (a 422 problem), cheaply and before any expensive work: the vertex
count is taken from the raw arrays before shapely sees them, so an oversized shape costs
microseconds to refuse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from services.geo.errors import InvalidAreaError
from services.geo.targeting.projection import LocalProjection

# West, south, east, north: Great Britain and Northern Ireland with their islands (Scilly,
# Channel coast, Shetland). Generous by design: it exists to refuse swapped coordinates and
# points in the sea off Africa, not to trace a coastline.
UK_BOUNDS = (-8.7, 49.8, 1.8, 60.9)

MIN_RADIUS_M = 100.0
MAX_RADIUS_M = 5_000.0


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float

    def projection(self) -> LocalProjection:
        return LocalProjection(self.lat, self.lon)

    def to_polygon(self, quad_segs: int = 16) -> Polygon:
        """An outer approximation in longitude/latitude (for drawing and the naive baseline):
        the buffer's vertices lie on a slightly larger circle so no true point is left out."""
        grow = 1 / math.cos(math.pi / (4 * quad_segs))
        projection = self.projection()
        metric = Point(0, 0).buffer(self.radius_m * grow, quad_segs=quad_segs)
        scale = projection.xy([self.lon + 1], [self.lat + 1])[0]

        def back(coordinates: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            degrees: npt.NDArray[np.float64] = coordinates / scale + np.array([self.lon, self.lat])
            return degrees

        polygon: Polygon = shapely.transform(metric, back)
        return polygon


def in_uk(lat: float, lon: float) -> bool:
    west, south, east, north = UK_BOUNDS
    return south <= lat <= north and west <= lon <= east


def check_point(lat: float, lon: float, *, field: str = "point") -> tuple[float, float]:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise InvalidAreaError(f"The {field} has a coordinate that is not a finite number.")
    if not in_uk(lat, lon):
        raise InvalidAreaError(
            f"The {field} ({lat}, {lon}) is outside the United Kingdom; give latitude first.",
            reason="outside-uk",
        )
    return lat, lon


def check_circle(
    lat: float,
    lon: float,
    radius_m: float,
    *,
    min_radius_m: float = MIN_RADIUS_M,
    max_radius_m: float = MAX_RADIUS_M,
) -> Circle:
    check_point(lat, lon, field="circle's centre")
    if not math.isfinite(radius_m) or not (min_radius_m <= radius_m <= max_radius_m):
        raise InvalidAreaError(
            f"A circle's radius must be from {min_radius_m:g} m to {max_radius_m:g} m, "
            f"not {radius_m}.",
            reason="radius-out-of-range",
        )
    return Circle(lat, lon, float(radius_m))


def count_positions(coordinates: object) -> int:
    if not isinstance(coordinates, list) or not coordinates:
        return 0
    first = coordinates[0]
    if isinstance(first, int | float) and not isinstance(first, bool):
        return 1
    return sum(count_positions(item) for item in coordinates)


def check_polygon(geometry: dict[str, Any], *, max_vertices: int, max_area_km2: float) -> Polygon:
    """A valid GeoJSON Polygon (longitude, latitude) inside the UK, of at most
    ``max_vertices`` positions and ``max_area_km2``."""
    if geometry.get("type") != "Polygon":
        raise InvalidAreaError(
            f"A drawn area must be a GeoJSON Polygon, not {str(geometry.get('type'))[:30]!r}."
        )
    coordinates = geometry.get("coordinates")
    vertices = count_positions(coordinates)
    if vertices > max_vertices:
        raise InvalidAreaError(
            f"The polygon has {vertices} vertices; at most {max_vertices} are accepted.",
            reason="too-many-vertices",
            max_vertices=max_vertices,
        )
    if not isinstance(coordinates, list) or not coordinates:
        raise InvalidAreaError("The polygon's coordinates are not a non-empty array of rings.")
    for ring in coordinates:
        _check_ring(ring)
    try:
        polygon = shape({"type": "Polygon", "coordinates": coordinates})
    except (shapely.errors.ShapelyError, ValueError, TypeError, IndexError) as error:
        raise InvalidAreaError(f"The polygon cannot be read: {error}") from error
    if polygon.is_empty or not polygon.is_valid:
        raise InvalidAreaError(
            f"The polygon is not valid: {explain_validity(polygon)}.", reason="invalid-geometry"
        )
    area_km2 = LocalProjection.around(polygon).to_metres(polygon).area / 1e6
    if area_km2 > max_area_km2:
        raise InvalidAreaError(
            f"The polygon covers {area_km2:.1f} km²; at most {max_area_km2:g} km² is accepted.",
            reason="area-too-large",
            max_area_km2=max_area_km2,
        )
    assert isinstance(polygon, Polygon)
    return polygon


def _check_ring(ring: object) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise InvalidAreaError("A polygon ring needs at least 4 positions (closed).")
    for position in ring:
        if (
            not isinstance(position, list | tuple)
            or len(position) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position)
        ):
            raise InvalidAreaError(
                f"A position is not [longitude, latitude]: {str(position)[:40]}."
            )
        lon, lat = position[0], position[1]
        check_point(lat, lon, field="polygon's vertex")
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise InvalidAreaError(
            "A polygon ring is not closed: its last position must repeat the first."
        )


@dataclass(frozen=True)
class TargetShapes:
    """The circles and polygons of one target, with exact intersection tests against watched
    circles and polygons. Each part is tested in its own local projection."""

    circles: Sequence[Circle] = ()
    polygons: Sequence[Polygon] = ()

    def __bool__(self) -> bool:
        return bool(self.circles or self.polygons)

    def geometries(self) -> list[BaseGeometry]:
        """Each part in longitude/latitude (circles as outer polygons)."""
        return [*(c.to_polygon() for c in self.circles), *self.polygons]

    def hits_circles(
        self, lats: npt.ArrayLike, lons: npt.ArrayLike, radii: npt.ArrayLike
    ) -> npt.NDArray[np.bool_]:
        """Which watched circles intersect any part: the distance from a circle's centre to
        the part is at most its radius."""
        lats, lons = np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)
        radii = np.asarray(radii, dtype=float)
        hit = np.zeros(len(lats), dtype=bool)
        for circle in self.circles:
            xy = circle.projection().xy(lons, lats)
            hit |= np.hypot(xy[:, 0], xy[:, 1]) <= radii + circle.radius_m
        for polygon in self.polygons:
            projection = LocalProjection.around(polygon)
            metric = projection.to_metres(polygon)
            shapely.prepare(metric)
            points = shapely.points(projection.xy(lons, lats))
            hit |= shapely.dwithin(metric, points, radii)
        return hit

    def hits_geometries(self, geometries: Sequence[BaseGeometry]) -> npt.NDArray[np.bool_]:
        """Which of ``geometries`` (longitude/latitude polygons) intersect any part."""
        array = np.asarray(geometries, dtype=object)
        hit = np.zeros(len(array), dtype=bool)
        for circle in self.circles:
            projection = circle.projection()
            metric = np.array([projection.to_metres(g) for g in array], dtype=object)
            hit |= shapely.dwithin(metric, Point(0, 0), circle.radius_m)
        for polygon in self.polygons:
            shapely.prepare(polygon)
            hit |= shapely.intersects(polygon, array)
        return hit
