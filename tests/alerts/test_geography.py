"""Which wards and boroughs a target touches, on the real ONS ward files."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.alerts.config import AlertsSettings
from services.alerts.geography import geography_for
from shared.settings import Environment
from tests.alerts.helpers import mapped_settings

CITY = "E09000001"
CAMDEN = "E09000007"
BELSIZE = "E05013652"


class TestTouched:
    def test_codes_count_toward_their_boroughs_and_unknown_wards_toward_none(self) -> None:
        touched = geography_for(mapped_settings()).touched(
            ward_codes=[BELSIZE, "E05999999"], borough_codes=[CITY]
        )

        assert touched.borough_codes == {CAMDEN, CITY}
        assert touched.ward_codes == {BELSIZE, "E05999999"}

    def test_a_polygon_touches_the_wards_under_it(self) -> None:
        # A small square around St Paul's, [lat, lon] as CAP writes them.
        square = [[51.513, -0.1], [51.513, -0.096], [51.515, -0.096], [51.515, -0.1]]

        touched = geography_for(mapped_settings()).touched(
            ward_codes=[], borough_codes=[], polygons=[[*square, square[0]]]
        )

        assert touched.borough_codes == {CITY}
        assert touched.ward_codes

    def test_a_self_crossing_polygon_is_still_placed(self) -> None:
        bow_tie = [[51.513, -0.1], [51.515, -0.096], [51.513, -0.096], [51.515, -0.1]]

        touched = geography_for(mapped_settings()).touched(
            ward_codes=[], borough_codes=[], polygons=[[*bow_tie, bow_tie[0]]]
        )

        assert touched.borough_codes == {CITY}

    def test_a_circle_outside_london_touches_nothing(self) -> None:
        touched = geography_for(mapped_settings()).touched(
            ward_codes=[],
            borough_codes=[],
            circles=[{"lat": 53.48, "lon": -2.24, "radius_km": 2.0}],
        )

        assert touched.ward_codes == set() and touched.borough_codes == set()


def test_a_configured_ward_file_that_is_missing_stops_the_service() -> None:
    settings = AlertsSettings(environment=Environment.TEST, wards_csv=Path("/nonexistent.csv"))

    with pytest.raises(FileNotFoundError):
        geography_for(settings)
