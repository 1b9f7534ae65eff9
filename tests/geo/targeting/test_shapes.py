"""Checks of untrusted shapes: each refusal says why, and exact tests are exact."""

from __future__ import annotations

import math
from typing import Any

import pytest
from shapely.geometry import Polygon

from services.geo.errors import InvalidAreaError
from services.geo.targeting.shapes import TargetShapes, check_circle, check_polygon
from tests.geo.factories import bow_tie, square


def polygon(geometry: dict[str, Any]) -> Polygon:
    return check_polygon(geometry, max_vertices=10_000, max_area_km2=100)


def ring_of(vertices: int) -> dict[str, Any]:
    points = [
        [
            -0.12 + 0.01 * math.cos(2 * math.pi * i / vertices),
            51.5 + 0.01 * math.sin(2 * math.pi * i / vertices),
        ]
        for i in range(vertices)
    ]
    return {"type": "Polygon", "coordinates": [[*points, points[0]]]}


class TestCheckPolygon:
    def test_a_valid_square_passes(self) -> None:
        assert polygon(square(-0.13, 51.50)).area > 0

    @pytest.mark.parametrize(
        ("geometry", "reason"),
        [
            (bow_tie(), "not valid"),
            (ring_of(10_000), "vertices"),
            (
                {
                    "type": "Polygon",
                    "coordinates": [[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.51]]],
                },
                "not closed",
            ),
            (
                {
                    "type": "Polygon",
                    "coordinates": [[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]],
                },
                "outside the United Kingdom",
            ),
            (
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[float("nan"), 51.5], [-0.09, 51.5], [-0.09, 51.51], [float("nan"), 51.5]]
                    ],
                },
                "finite",
            ),
            ({"type": "Point", "coordinates": [-0.1, 51.5]}, "Polygon"),
            (square(-0.5, 51.3, size=0.3), "km²"),
        ],
    )
    def test_bad_polygons_are_refused_with_a_reason(
        self, geometry: dict[str, Any], reason: str
    ) -> None:
        with pytest.raises(InvalidAreaError) as refused:
            polygon(geometry)
        assert reason in refused.value.detail

    def test_exactly_the_vertex_limit_passes(self) -> None:
        assert polygon(ring_of(9_999)).is_valid  # 9,999 + the closing position


class TestCheckCircle:
    @pytest.mark.parametrize("radius", [99.0, 5000.1, float("nan"), float("inf")])
    def test_radius_out_of_range(self, radius: float) -> None:
        with pytest.raises(InvalidAreaError):
            check_circle(51.5, -0.1, radius)

    def test_swapped_coordinates_are_outside_the_uk(self) -> None:
        with pytest.raises(InvalidAreaError) as refused:
            check_circle(-0.1, 51.5, 500)
        assert refused.value.extensions["reason"] == "outside-uk"


class TestTargetShapes:
    def test_circles_intersect_when_centres_are_within_the_sum_of_radii(self) -> None:
        target = TargetShapes(circles=[check_circle(51.5, -0.1, 500)])
        metres_per_degree_lon = 111_195 * math.cos(math.radians(51.5))
        lons = [-0.1 + 990 / metres_per_degree_lon, -0.1 + 1010 / metres_per_degree_lon]
        assert list(target.hits_circles([51.5, 51.5], lons, [500, 500])) == [True, False]

    def test_a_polygon_target_and_a_circle_just_outside_it(self) -> None:
        target = TargetShapes(polygons=[polygon(square(-0.13, 51.50))])
        # 100 m south of the square's southern edge, radius 90 m and 110 m.
        lat = 51.50 - 100 / 111_195
        assert list(target.hits_circles([lat, lat], [-0.125, -0.125], [90, 110])) == [False, True]
