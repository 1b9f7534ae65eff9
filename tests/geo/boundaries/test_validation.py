"""The checks a geography must pass before anything is stored (pure: no database)."""

from __future__ import annotations

from typing import Any

import pytest

from services.geo.boundaries.schemas import FeatureCollection
from services.geo.boundaries.validation import ImportLimits, check_boundaries
from services.geo.errors import BoundarySetRefusedError, BoundarySetTooLargeError
from tests.geo.factories import bow_tie, demo_collections, square


def collections(
    boroughs: dict[str, Any], wards: dict[str, Any]
) -> tuple[FeatureCollection, FeatureCollection]:
    return FeatureCollection.model_validate(boroughs), FeatureCollection.model_validate(wards)


def refused(boroughs: dict[str, Any], wards: dict[str, Any]) -> list[str]:
    with pytest.raises(BoundarySetRefusedError) as caught:
        check_boundaries(*collections(boroughs, wards))
    return caught.value.problems


class TestCheckBoundaries:
    def test_demo_geography_passes_with_bounds_and_vertex_counts(self) -> None:
        checked = check_boundaries(*collections(*demo_collections()))

        assert [b.code for b in checked.boroughs] == ["E09999991"]
        assert [w.code for w in checked.wards] == [
            "E05999991",
            "E05999992",
            "E05999993",
            "E05999994",
        ]
        assert {w.borough_code for w in checked.wards} == {"E09999991"}
        assert checked.boroughs[0].bbox == pytest.approx((-0.14, 51.50, -0.12, 51.52))
        assert checked.vertex_count == 5 * 5

    def test_multipolygon_is_accepted(self) -> None:
        boroughs, wards = demo_collections()
        first, second = square(-0.14, 51.50, 0.005), square(-0.13, 51.51, 0.005)
        wards["features"][0]["geometry"] = {
            "type": "MultiPolygon",
            "coordinates": [first["coordinates"], second["coordinates"]],
        }
        checked = check_boundaries(*collections(boroughs, wards))
        assert checked.wards[0].geometry["type"] == "MultiPolygon"

    def test_bow_tie_is_refused_with_the_reason_from_explain_validity(self) -> None:
        boroughs, wards = demo_collections()
        wards["features"][1]["geometry"] = bow_tie()

        problems = refused(boroughs, wards)

        assert len(problems) == 1
        assert problems[0].startswith("wards.features[1] (E05999992): the geometry is not valid")
        assert "Self-intersection" in problems[0]

    def test_missing_properties_are_all_listed(self) -> None:
        boroughs, wards = demo_collections()
        del boroughs["features"][0]["properties"]["name"]
        del wards["features"][2]["properties"]["borough_code"]
        wards["features"][3]["properties"] = None

        problems = refused(boroughs, wards)

        assert "boroughs.features[0] (E09999991): the property 'name' is missing" in problems
        assert "wards.features[2] (E05999993): the property 'borough_code' is missing" in problems
        assert "wards.features[3]: the property 'code' is missing" in problems

    @pytest.mark.parametrize(
        ("geometry", "expected"),
        [
            ({"type": "Point", "coordinates": [-0.13, 51.5]}, "not 'Point'"),
            (None, "the geometry is missing"),
            (
                {
                    "type": "Polygon",
                    "coordinates": [[[-0.14, 51.5], [-0.13, 51.5], [-0.13, 51.51], [-0.14, 51.51]]],
                },
                "a ring is not closed",
            ),
            ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, "fewer than 4"),
            (
                {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [200, 1], [0, 0]]]},
                "outside WGS84",
            ),
            ({"type": "Polygon", "coordinates": "nonsense"}, "a polygon is not"),
            ({"type": "Polygon", "coordinates": [[["a", "b"]] * 4]}, "not [longitude, latitude]"),
        ],
    )
    def test_unusable_geometry_is_refused(self, geometry: Any, expected: str) -> None:
        boroughs, wards = demo_collections()
        wards["features"][0]["geometry"] = geometry

        problems = refused(boroughs, wards)

        assert len(problems) == 1
        assert problems[0].startswith("wards.features[0] (E05999991):")
        assert expected in problems[0]

    def test_codes_must_look_like_ons_codes_and_be_unique(self) -> None:
        boroughs, wards = demo_collections()
        wards["features"][0]["properties"]["code"] = "ward-1"
        wards["features"][2]["properties"]["code"] = "E05999992"

        problems = refused(boroughs, wards)

        assert any("'code' is 'ward-1', not an ONS code" in p for p in problems)
        assert "wards.features[2] (E05999992): code E05999992 is used by features[1] too" in (
            problems
        )

    def test_ward_whose_borough_is_not_imported_is_refused(self) -> None:
        boroughs, wards = demo_collections()
        wards["features"][0]["properties"]["borough_code"] = "E09999998"

        problems = refused(boroughs, wards)

        assert problems == [
            "wards: ward E05999991 (Acorn Green) names borough E09999998, "
            "which is not among the boroughs"
        ]

    def test_a_bad_borough_is_reported_once_not_again_for_its_wards(self) -> None:
        boroughs, wards = demo_collections()
        boroughs["features"][0]["geometry"] = bow_tie()

        problems = refused(boroughs, wards)

        assert len(problems) == 1
        assert problems[0].startswith("boroughs.features[0] (E09999991): the geometry is not")

    def test_empty_collections_are_refused(self) -> None:
        problems = refused(
            {"type": "FeatureCollection", "features": []},
            {"type": "FeatureCollection", "features": []},
        )
        assert problems == ["boroughs has no features", "wards has no features"]

    def test_many_problems_are_capped_in_the_list(self) -> None:
        boroughs, wards = demo_collections()
        template = wards["features"][0]
        wards["features"] = [
            {**template, "properties": {**template["properties"], "code": f"E05{i:06d}"}}
            for i in range(70)
        ]  # 70 overlapping-but-valid wards, each with a broken name
        for feature in wards["features"]:
            feature["properties"]["name"] = ""

        problems = refused(boroughs, wards)

        assert len(problems) == 51
        assert problems[-1] == "... 20 more not listed"


class TestLimits:
    def test_too_many_features_is_too_large(self) -> None:
        boroughs, wards = demo_collections()
        with pytest.raises(BoundarySetTooLargeError) as caught:
            check_boundaries(
                *collections(boroughs, wards), ImportLimits(max_features=3, max_vertices=10**6)
            )
        assert caught.value.status_code == 413
        assert caught.value.extensions["collection"] == "wards"

    def test_too_many_vertices_is_too_large(self) -> None:
        boroughs, wards = demo_collections()
        with pytest.raises(BoundarySetTooLargeError) as caught:
            check_boundaries(
                *collections(boroughs, wards), ImportLimits(max_features=100, max_vertices=19)
            )
        assert caught.value.extensions == {
            "collection": "wards",
            "vertices": 20,
            "max_vertices": 19,
        }
