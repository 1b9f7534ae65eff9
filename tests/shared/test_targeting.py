"""The targeting contract (shared/targeting.py) on its own: each rule, the field it names, and
the same answers whatever service asks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from shapely.geometry import shape

from shared import targeting
from shared.targeting import (
    Boundaries,
    Target,
    TargetCircle,
    TargetPolygon,
    check_target,
)

LONDON_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "london"
ABBEY_ROAD = "E05013792"  # Westminster
WESTMINSTER = "E09000033"
# A small square in Westminster, [latitude, longitude] as officers and CAP write them.
SQUARE = [[51.50, -0.14], [51.50, -0.13], [51.51, -0.13], [51.51, -0.14], [51.50, -0.14]]
BOW_TIE = [[51.50, -0.14], [51.51, -0.13], [51.50, -0.13], [51.51, -0.14], [51.50, -0.14]]


@pytest.fixture(scope="module")
def london() -> Boundaries:
    """Two codes and, when the reference data is beside the repository, the real outline."""
    outline = None
    boroughs = LONDON_DATA / "boroughs.geojson"
    if boroughs.is_file():
        features = json.loads(boroughs.read_text())["features"]
        outline = targeting.outline_of(shape(f["geometry"]) for f in features)
    return Boundaries(
        ward_codes=frozenset({ABBEY_ROAD}), borough_codes=frozenset({WESTMINSTER}), outline=outline
    )


def problems(target: Target, boundaries: Boundaries) -> list[tuple[str, str]]:
    return [(p.field, p.reason) for p in check_target(target, boundaries)]


class TestCircles:
    def test_from_100_m_to_25_km_inside_london(self, london: Boundaries) -> None:
        for radius in (100, 500, 10_000, 25_000):
            circle = TargetCircle(51.53234, -0.17822, radius)
            assert problems(Target(circles=[circle]), london) == []

    @pytest.mark.parametrize("radius", [50, 99.9, 25_000.1, 50_000])
    def test_a_radius_out_of_range_names_the_radius(
        self, london: Boundaries, radius: float
    ) -> None:
        found = check_target(Target(circles=[TargetCircle(51.5, -0.1, radius)]), london)
        assert [(p.field, p.reason) for p in found] == [
            ("target_circles[0].radius_km", "radius-out-of-range")
        ]
        assert "100 m to 25 km" in found[0].detail

    def test_swapped_coordinates_are_outside_london(self, london: Boundaries) -> None:
        found = check_target(Target(circles=[TargetCircle(-0.17822, 51.53234, 1000)]), london)
        assert [(p.field, p.reason) for p in found] == [("target_circles[0]", "outside-london")]
        assert "lat -0.17822, lon 51.5323" in found[0].detail

    def test_not_finite_is_refused(self, london: Boundaries) -> None:
        circle = TargetCircle(math.nan, -0.1, 1000)
        assert problems(Target(circles=[circle]), london) == [("target_circles[0]", "not-finite")]


class TestPolygons:
    def test_a_simple_square_in_london_is_accepted(self, london: Boundaries) -> None:
        assert problems(Target(polygons=[TargetPolygon(SQUARE)]), london) == []

    @pytest.mark.parametrize(
        ("points", "field", "reason"),
        [
            (BOW_TIE, "target_polygons[0]", "self-intersection"),
            ([[51.5, -0.1]] * 4, "target_polygons[0]", "too-few-distinct-points"),
            (SQUARE[:-1], "target_polygons[0]", "not-closed"),
            (SQUARE[:3], "target_polygons[0]", "not-closed"),
            ([[lon, lat] for lat, lon in SQUARE], "target_polygons[0][0]", "outside-london"),
            ([*SQUARE[:2], [48.85, 2.35], *SQUARE[2:]], "target_polygons[0][2]", "outside-london"),
            ([[51.5, -0.1, 3.0], *SQUARE[1:]], "target_polygons[0][0]", "not-a-point"),
            (
                [[51.50, -0.14], [51.50, -0.13], [51.50, -0.12], [51.50, -0.14]],
                "target_polygons[0]",
                "self-intersection",
            ),
        ],
    )
    def test_each_rule_names_the_polygon_or_point(
        self, london: Boundaries, points: list[list[float]], field: str, reason: str
    ) -> None:
        assert problems(Target(polygons=[TargetPolygon(points)]), london) == [(field, reason)]

    def test_a_crossing_is_located(self, london: Boundaries) -> None:
        (found,) = check_target(Target(polygons=[TargetPolygon(BOW_TIE)]), london)
        assert "cross each other near (lat 51.50500, lon -0.13500)" in found.detail

    def test_too_many_vertices(self, london: Boundaries) -> None:
        count = targeting.MAX_POLYGON_VERTICES
        ring = [
            [
                51.5 + 0.01 * math.sin(2 * math.pi * i / count),
                -0.1 + 0.01 * math.cos(2 * math.pi * i / count),
            ]
            for i in range(count)
        ]
        ring.append(ring[0])
        assert problems(Target(polygons=[TargetPolygon(ring)]), london) == [
            ("target_polygons[0]", "too-many-vertices")
        ]

    def test_larger_than_the_area_limit(self) -> None:
        # Only the box: an area this large cannot lie inside the outline at all.
        wide = [[51.27, -0.53], [51.27, 0.36], [51.71, 0.36], [51.71, -0.53], [51.27, -0.53]]
        assert problems(Target(polygons=[TargetPolygon(wide)]), Boundaries()) == [
            ("target_polygons[0]", "area-too-large")
        ]


class TestCodes:
    def test_only_codes_of_the_loaded_set(self, london: Boundaries) -> None:
        target = Target(ward_codes=[ABBEY_ROAD, "E05999999"], borough_codes=["E09999999"])
        assert problems(target, london) == [
            ("target_ward_codes[1]", "unknown-ward"),
            ("target_borough_codes[0]", "unknown-borough"),
        ]

    def test_without_a_loaded_set_codes_are_not_judged(self) -> None:
        assert problems(Target(ward_codes=["E05999999"]), Boundaries()) == []


class TestFieldNames:
    def test_the_preview_names_its_own_fields(self, london: Boundaries) -> None:
        target = Target(circles=[TargetCircle(51.5, -0.1, 50)], polygons=[TargetPolygon(BOW_TIE)])
        found = check_target(target, london, names=targeting.PREVIEW_FIELDS)
        assert [p.field for p in found] == ["circles[0].radius_m", "polygons[0]"]

    def test_every_problem_is_reported_not_just_the_first(self, london: Boundaries) -> None:
        target = Target(
            ward_codes=[ABBEY_ROAD],
            circles=[TargetCircle(51.53234, -0.17822, 10_000), TargetCircle(51.5, -0.1, 50)],
            polygons=[TargetPolygon(BOW_TIE), TargetPolygon([[51.5, -0.1]] * 4)],
        )
        assert [p.part for p in check_target(target, london)] == [
            "target_circles[1]",
            "target_polygons[0]",
            "target_polygons[1]",
        ]


class TestOutline:
    def test_the_outline_is_finer_than_the_box(self, london: Boundaries) -> None:
        if london.outline is None:
            pytest.skip("the London boundaries are not beside the repository")
        # Inside the box, but in Surrey (Guildford's direction), 10 km beyond the outline.
        assert Boundaries().in_london(51.30, -0.50)
        assert not london.in_london(51.30, -0.50)
        # Just beyond the edge (within the tolerance) is accepted: shapes drawn along it.
        south = london.outline.bounds[1]
        southernmost = min(london.outline.exterior.coords, key=lambda xy: xy[1])
        assert london.in_london(south - 0.005, southernmost[0])
        assert not london.in_london(south - 0.02, southernmost[0])
