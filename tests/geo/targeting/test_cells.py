"""H3 covers and keys: the index must never miss an intersection, and its certainties must
be true."""

from __future__ import annotations

import math
import random

import h3.api.basic_int as h3
import pytest
from shapely.geometry import Point, Polygon

from services.geo.targeting.cells import (
    INDEX_RESOLUTION,
    TargetCells,
    cell_key,
    circle_cover,
    key_range,
    polygon_cover,
)
from services.geo.targeting.projection import distance_m
from services.geo.targeting.shapes import Circle


def fine_cells(cells: list[int]) -> set[int]:
    return set(h3.uncompact_cells(cells, INDEX_RESOLUTION)) if cells else set()


class TestKeys:
    @pytest.mark.parametrize("res", [5, 6, 7])
    def test_descendants_at_the_index_resolution_are_one_contiguous_range(self, res: int) -> None:
        cell = h3.latlng_to_cell(51.5074, -0.1278, res)
        first, last = key_range(cell)
        children = h3.cell_to_children(cell, INDEX_RESOLUTION)
        assert (min(children), max(children)) == (first, last)
        # Nothing else at that resolution nearby falls in the range.
        others = set(h3.grid_disk(h3.cell_to_center_child(cell, INDEX_RESOLUTION), 30)) - set(
            children
        )
        assert not [c for c in others if first <= c <= last]
        assert cell_key(cell) == first

    def test_a_target_cell_finds_its_stored_ancestors_by_exact_key(self) -> None:
        fine = h3.latlng_to_cell(51.5, -0.1, INDEX_RESOLUTION)
        cells = TargetCells.of(
            [polygon_cover(Polygon([(-0.1, 51.5), (-0.099, 51.5), (-0.099, 51.501)]))]
        )
        parent = h3.cell_to_parent(fine, INDEX_RESOLUTION - 2)
        pairs = set(zip(cells.ancestor_key, cells.ancestor_res, strict=True))
        assert (cell_key(parent), INDEX_RESOLUTION - 2) in pairs


class TestCircleCover:
    @pytest.mark.parametrize("radius_m", [100.0, 1000.0, 5000.0])
    def test_every_point_of_the_circle_is_in_a_covered_cell_and_interior_cells_are_inside(
        self, radius_m: float
    ) -> None:
        circle = Circle(51.5138, -0.0984, radius_m)
        cover = circle_cover(circle)
        covered = fine_cells(cover.interior) | fine_cells(cover.boundary)
        rng = random.Random(4)
        for _ in range(500):
            bearing, reach = rng.uniform(0, 2 * math.pi), radius_m * math.sqrt(rng.random())
            lat = circle.lat + reach * math.cos(bearing) / 111_195
            lon = circle.lon + reach * math.sin(bearing) / (
                111_195 * math.cos(math.radians(circle.lat))
            )
            assert h3.latlng_to_cell(lat, lon, INDEX_RESOLUTION) in covered
        for cell in fine_cells(cover.interior):
            for lat, lon in h3.cell_to_boundary(cell):
                assert distance_m(circle.lat, circle.lon, lat, lon) <= radius_m * 1.001

    def test_a_5_km_circle_is_compacted(self) -> None:
        cover = circle_cover(Circle(51.5, -0.1, 5000))
        assert any(h3.get_resolution(c) < INDEX_RESOLUTION for c in cover.interior)


class TestPolygonCover:
    def test_interior_and_boundary_cells_of_a_square(self) -> None:
        square = Polygon([(-0.14, 51.50), (-0.10, 51.50), (-0.10, 51.53), (-0.14, 51.53)])
        cover = polygon_cover(square)
        assert cover.interior and cover.boundary
        for cell in fine_cells(cover.interior):
            assert square.contains(Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(cell)]))
        inside = Point(-0.12, 51.515)
        assert h3.latlng_to_cell(inside.y, inside.x, INDEX_RESOLUTION) in fine_cells(cover.interior)

    def test_a_polygon_smaller_than_a_cell_still_has_its_cell(self) -> None:
        tiny = Polygon([(-0.1, 51.5), (-0.0999, 51.5), (-0.0999, 51.5001)])
        cover = polygon_cover(tiny)
        assert not cover.interior
        assert h3.latlng_to_cell(51.50003, -0.09995, INDEX_RESOLUTION) in fine_cells(cover.boundary)
