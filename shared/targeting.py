"""The targeting contract: what an alert may target, checked the same way everywhere.

Alerts checks a target with it when a draft is written, submitted, published and when a CAP
document arrives, and refuses anything wrong with a 422 naming the field; geo checks the target
of every ``alert.published`` with it again before resolving (and its audience preview with
it), so nothing that reached geo can be refused there for a reason alerts did not know. What
geo still cannot use (its boundary set lacks a code alerts knew) is reported back, never
dropped in silence (``AudienceResolved``).

The limits, and why:

* Circles: radius from ``MIN_CIRCLE_RADIUS_M`` (100 m) to ``MAX_CIRCLE_RADIUS_M`` (25 km),
  centre in Greater London. 100 m is about the precision of a postcode's centroid, well under
  one H3 index cell (resolution 8, edges of 460 m), and below it a circle can single out a
  household. 25 km (1,963 km²) reaches the whole of Greater London (1,572 km²) from its
  centre and matches the polygon area limit below: geo's largest resolution, "all of London",
  is bounded the same whichever shape asks for it. Members' own watched circles keep geo's
  narrower limit (up to 5 km, ``GEO_MAX_CIRCLE_RADIUS_M``): that is a different contract.
* Polygons: one closed ring of at least three distinct points and at most
  ``MAX_POLYGON_VERTICES`` positions, not crossing itself, with an area above zero and at
  most ``MAX_POLYGON_AREA_KM2``, every vertex in Greater London. Points outside London are
  named in the message: a polygon or circle with latitude and longitude swapped lands near
  0° N 51° E, far outside it.
* Codes: only ward and borough codes of the boundary set the checking service has loaded.

"In Greater London" is within ``LONDON_TOLERANCE_KM`` of the outline (a shape drawn along the
edge may stray a little beyond it) when the service has the outline, and inside
``LONDON_BOUNDS`` (which holds the outline and its tolerance) when it has not: alerts, the gate,
checks the outline; geo checks the box, so the box never refuses what the outline allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

MIN_CIRCLE_RADIUS_M = 100.0
MAX_CIRCLE_RADIUS_M = 25_000.0
MAX_POLYGON_VERTICES = 1_000
MAX_POLYGON_AREA_KM2 = 2_500.0
LONDON_TOLERANCE_KM = 1.0
# West, south, east, north: Greater London's outline (-0.510, 51.287, 0.334, 51.692) and a
# little more than its tolerance around it.
LONDON_BOUNDS = (-0.54, 51.26, 0.37, 51.72)

# Kilometres per degree near London: an equirectangular projection centred on the city is
# accurate to well under 1 % across Greater London, plenty for areas and tolerances.
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON = 111.320 * math.cos(math.radians(51.5))

_LOCATION = re.compile(r"\[\s*(-?[0-9.eE+-]+)\s+(-?[0-9.eE+-]+)\s*\]")


@dataclass(frozen=True)
class TargetCircle:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class TargetPolygon:
    """One ring as (latitude, longitude) points: the order CAP and officers write them in."""

    points: Sequence[Sequence[float]]


@dataclass(frozen=True)
class Target:
    """A target in the contract's terms; each service converts its own representation."""

    ward_codes: Sequence[str] = ()
    borough_codes: Sequence[str] = ()
    circles: Sequence[TargetCircle] = ()
    polygons: Sequence[TargetPolygon] = ()


@dataclass(frozen=True)
class FieldNames:
    """What each kind of target part is called in the checking service's own requests, so a
    problem names the field the sender wrote."""

    ward_codes: str = "target_ward_codes"
    borough_codes: str = "target_borough_codes"
    circles: str = "target_circles"
    polygons: str = "target_polygons"
    # How a circle's radius is given there ("radius_km" in alerts, "radius_m" in geo).
    radius: str = "radius_km"


ALERT_FIELDS = FieldNames()
PREVIEW_FIELDS = FieldNames(
    ward_codes="ward_codes",
    borough_codes="borough_codes",
    circles="circles",
    polygons="polygons",
    radius="radius_m",
)


@dataclass(frozen=True)
class TargetProblem:
    """One part of a target that cannot be used. ``part`` names the part ("target_circles[0]")
    and ``field`` the exact field at fault within it ("target_circles[0].radius_km")."""

    part: str
    field: str
    reason: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "part": self.part,
            "field": self.field,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Boundaries:
    """What the checking service knows of London: its loaded ward and borough codes and,
    optionally, the outline (longitude/latitude). Empty code sets mean "not loaded": codes
    then cannot be checked and are let through."""

    ward_codes: frozenset[str] = frozenset()
    borough_codes: frozenset[str] = frozenset()
    outline: BaseGeometry | None = None
    _near_outline: BaseGeometry | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.outline is not None:
            metric = shapely.transform(self.outline, _to_km).buffer(LONDON_TOLERANCE_KM)
            shapely.prepare(metric)
            object.__setattr__(self, "_near_outline", metric)

    def in_london(self, lat: float, lon: float) -> bool:
        west, south, east, north = LONDON_BOUNDS
        if not (south <= lat <= north and west <= lon <= east):
            return False
        if self._near_outline is None:
            return True
        x, y = lon * KM_PER_DEGREE_LON, lat * KM_PER_DEGREE_LAT
        return bool(shapely.intersects_xy(self._near_outline, x, y))


def _to_km(coordinates: object) -> object:
    """(lon, lat) rows of a shapely coordinate array, in kilometres."""
    return coordinates * (KM_PER_DEGREE_LON, KM_PER_DEGREE_LAT)  # type: ignore[operator]


def check_target(
    target: Target, boundaries: Boundaries, *, names: FieldNames = ALERT_FIELDS
) -> list[TargetProblem]:
    """Every problem of ``target`` (empty when it may be published), in field order."""
    problems: list[TargetProblem] = []
    if boundaries.ward_codes:
        for index, code in enumerate(target.ward_codes):
            if code not in boundaries.ward_codes:
                where = f"{names.ward_codes}[{index}]"
                problems.append(
                    TargetProblem(
                        where,
                        where,
                        "unknown-ward",
                        f"{where}: there is no ward {code} in the loaded boundary set.",
                    )
                )
    if boundaries.borough_codes:
        for index, code in enumerate(target.borough_codes):
            if code not in boundaries.borough_codes:
                where = f"{names.borough_codes}[{index}]"
                problems.append(
                    TargetProblem(
                        where,
                        where,
                        "unknown-borough",
                        f"{where}: there is no borough {code} in the loaded boundary set.",
                    )
                )
    for index, circle in enumerate(target.circles):
        problem = check_circle(circle, boundaries, part=f"{names.circles}[{index}]", names=names)
        if problem is not None:
            problems.append(problem)
    for index, polygon in enumerate(target.polygons):
        problem = check_polygon(polygon, boundaries, part=f"{names.polygons}[{index}]")
        if problem is not None:
            problems.append(problem)
    return problems


def check_circle(
    circle: TargetCircle, boundaries: Boundaries, *, part: str, names: FieldNames = ALERT_FIELDS
) -> TargetProblem | None:
    lat, lon, radius_m = circle.lat, circle.lon, circle.radius_m
    if not all(math.isfinite(v) for v in (lat, lon, radius_m)):
        return TargetProblem(
            part, part, "not-finite", f"{part}: every number must be finite (no NaN or infinity)."
        )
    if not boundaries.in_london(lat, lon):
        return TargetProblem(
            part,
            part,
            "outside-london",
            f"{part}: the centre (lat {lat:g}, lon {lon:g}) is outside Greater London; "
            "check that latitude and longitude are not swapped.",
        )
    if not MIN_CIRCLE_RADIUS_M <= radius_m <= MAX_CIRCLE_RADIUS_M:
        radius_field = f"{part}.{names.radius}"
        return TargetProblem(
            part,
            radius_field,
            "radius-out-of-range",
            f"{radius_field}: a circle's radius must be from {MIN_CIRCLE_RADIUS_M:g} m to "
            f"{MAX_CIRCLE_RADIUS_M / 1000:g} km, not {radius_m:g} m.",
        )
    return None


def check_polygon(
    polygon: TargetPolygon, boundaries: Boundaries, *, part: str
) -> TargetProblem | None:
    points = list(polygon.points)

    def refused(reason: str, detail: str, at: str = part) -> TargetProblem:
        return TargetProblem(part, at, reason, f"{at}: {detail}")

    if len(points) > MAX_POLYGON_VERTICES:
        return refused(
            "too-many-vertices",
            f"a polygon may have at most {MAX_POLYGON_VERTICES} points, not {len(points)}.",
        )
    for index, point in enumerate(points):
        if len(point) != 2 or not all(math.isfinite(v) for v in point):
            return refused(
                "not-a-point",
                "a point is [latitude, longitude], two finite numbers.",
                f"{part}[{index}]",
            )
    if len(points) < 4 or list(points[0]) != list(points[-1]):
        return refused(
            "not-closed",
            "a polygon needs at least four points, the first repeated as the last.",
        )
    if len({(lat, lon) for lat, lon in points}) < 3:
        return refused(
            "too-few-distinct-points", "a polygon needs at least three different points."
        )
    for index, (lat, lon) in enumerate(points):
        if not boundaries.in_london(lat, lon):
            return refused(
                "outside-london",
                f"the point (lat {lat:g}, lon {lon:g}) is outside Greater London; points are "
                "[latitude, longitude]: check that they are not swapped.",
                f"{part}[{index}]",
            )
    shape = Polygon([(lon, lat) for lat, lon in points])
    if not shape.is_valid:
        return refused("self-intersection", _why_invalid(shape))
    area_km2 = shapely.transform(shape, _to_km).area
    if area_km2 <= 0:
        return refused("no-area", "the polygon encloses no area.")
    if area_km2 > MAX_POLYGON_AREA_KM2:
        return refused(
            "area-too-large",
            f"the polygon covers {area_km2:,.0f} km²; at most {MAX_POLYGON_AREA_KM2:,.0f} km² "
            "is accepted (target boroughs instead).",
        )
    return None


def _why_invalid(shape: Polygon) -> str:
    reason = shapely.is_valid_reason(shape)
    found = _LOCATION.search(reason)
    where = ""
    if found:
        lon, lat = float(found.group(1)), float(found.group(2))
        where = f" near (lat {lat:.5f}, lon {lon:.5f})"
    if reason.startswith(("Self-intersection", "Ring Self-intersection")):
        return f"the polygon's edges cross each other{where}; draw it without crossing lines."
    return f"the polygon is not valid ({reason.split('[')[0].strip()}){where}."


def outline_of(geometries: Iterable[BaseGeometry]) -> BaseGeometry:
    """Greater London's outline from its borough (or ward) shapes."""
    return shapely.union_all([g if g.is_valid else g.buffer(0) for g in geometries])


def problem_summary(problems: Sequence[TargetProblem]) -> str:
    shown = " ".join(p.detail for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{shown}{more}"
