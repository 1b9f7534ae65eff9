"""The wards and boroughs of one boundary set as shapely geometry, held in memory.

704 generalised wards are about 7,000 vertices: small enough to keep per process, and every
geometric question about wards (which wards does this circle touch, which ward holds this
point) is then answered in well under a millisecond with an STRtree. Maps are cached by
boundary-set id, which never changes meaning: a new import is a new id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from services.geo.targeting.projection import LocalProjection
from services.geo.targeting.shapes import Circle, TargetShapes

# Wards that meet only at a corner are neighbours too; the generalised polygons share their
# edges exactly, so a metre of tolerance only guards against rounding.
NEIGHBOUR_TOLERANCE_DEGREES = 1e-5


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    borough_code: str | None
    geometry: BaseGeometry


@dataclass
class WardMap:
    set_id: uuid.UUID
    wards: list[Place]
    boroughs: list[Place]
    neighbours: dict[str, list[str]] = field(default_factory=dict)
    _ward_tree: STRtree = field(init=False, repr=False)
    _borough_tree: STRtree = field(init=False, repr=False)
    _ward_index: dict[str, int] = field(init=False, repr=False)
    _wards_of_borough: dict[str, list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        geometries = [w.geometry for w in self.wards]
        shapely.prepare(geometries)
        self._ward_tree = STRtree(geometries)
        self._borough_tree = STRtree([b.geometry for b in self.boroughs])
        self._ward_index = {w.code: i for i, w in enumerate(self.wards)}
        self._wards_of_borough = {}
        for ward in self.wards:
            self._wards_of_borough.setdefault(ward.borough_code or "", []).append(ward.code)

    @classmethod
    def from_rows(
        cls,
        set_id: uuid.UUID,
        wards: Iterable[tuple[str, str, str, dict[str, Any]]],
        boroughs: Iterable[tuple[str, str, dict[str, Any]]],
        neighbours: dict[str, list[str]] | None = None,
    ) -> WardMap:
        return cls(
            set_id,
            [
                Place(code, name, borough, shape(geometry))
                for code, name, borough, geometry in wards
            ],
            [Place(code, name, None, shape(geometry)) for code, name, geometry in boroughs],
            neighbours or {},
        )

    def ward(self, code: str) -> Place | None:
        index = self._ward_index.get(code)
        return None if index is None else self.wards[index]

    def borough(self, code: str) -> Place | None:
        return next((b for b in self.boroughs if b.code == code), None)

    def wards_of_borough(self, code: str) -> list[str]:
        return list(self._wards_of_borough.get(code, []))

    def ward_at(self, lat: float, lon: float) -> Place | None:
        point = Point(lon, lat)
        hits = self._ward_tree.query(point, predicate="intersects")
        return self.wards[int(min(hits))] if len(hits) else None

    def borough_at(self, lat: float, lon: float) -> Place | None:
        hits = self._borough_tree.query(Point(lon, lat), predicate="intersects")
        return self.boroughs[int(min(hits))] if len(hits) else None

    def wards_touching(self, shapes: TargetShapes) -> list[str]:
        """Codes of the wards that any part of ``shapes`` intersects (exact)."""
        found: set[int] = set()
        for circle in shapes.circles:
            found.update(self._wards_touching_circle(circle))
        for polygon in shapes.polygons:
            found.update(int(i) for i in self._ward_tree.query(polygon, predicate="intersects"))
        return sorted(self.wards[i].code for i in found)

    def wards_touching_circle(self, circle: Circle) -> list[str]:
        return sorted(self.wards[i].code for i in self._wards_touching_circle(circle))

    def _wards_touching_circle(self, circle: Circle) -> list[int]:
        # Shortlist by the circle's outer polygon's bounds, then test exactly in metres.
        candidates = self._ward_tree.query(circle.to_polygon(quad_segs=4).envelope)
        if not len(candidates):
            return []
        projection = LocalProjection(circle.lat, circle.lon)
        metric = [projection.to_metres(self.wards[int(i)].geometry) for i in candidates]
        near = shapely.dwithin(np.asarray(metric, dtype=object), Point(0, 0), circle.radius_m)
        return [int(i) for i, hit in zip(candidates, near, strict=True) if hit]

    def wards_touching_geometry(self, geometry: BaseGeometry) -> list[str]:
        hits = self._ward_tree.query(geometry, predicate="intersects")
        return sorted(self.wards[int(i)].code for i in hits)


def neighbour_pairs(geometries: Sequence[BaseGeometry]) -> list[tuple[int, int]]:
    """Every (i, j), i != j, of geometries that touch or overlap, in both directions."""
    tree = STRtree(list(geometries))
    left, right = tree.query(
        list(geometries), predicate="dwithin", distance=NEIGHBOUR_TOLERANCE_DEGREES
    )
    return [(int(i), int(j)) for i, j in zip(left, right, strict=True) if i != j]
