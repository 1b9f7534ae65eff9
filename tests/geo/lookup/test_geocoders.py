"""Both geocoders behind the one interface, and the postcode endpoint."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.geocoding import (
    CsvGeocoder,
    GeocoderUnavailableError,
    HttpGeocoder,
    InvalidPostcodeError,
    normalise_postcode,
)
from tests.geo.conftest import LONDON_DATA


class TestNormalise:
    @pytest.mark.parametrize("raw", ["sw1a1aa", " SW1A  1AA ", "Sw1A 1aA"])
    def test_any_spacing_and_case(self, raw: str) -> None:
        assert normalise_postcode(raw) == "SW1A 1AA"

    @pytest.mark.parametrize("raw", ["", "hello", "SW1A 1AAA", "12345", "SW1A-1AA"])
    def test_not_a_postcode(self, raw: str) -> None:
        with pytest.raises(InvalidPostcodeError):
            normalise_postcode(raw)


class TestCsvGeocoder:
    async def test_small_file_loaded_lazily(self, tmp_path: Path) -> None:
        path = tmp_path / "postcodes.csv"
        path.write_text(
            "postcode,lat,lon,ward_code,borough_code\n"
            "WC2N 5DU,51.507,-0.127,E05999994,E09999991\n"
            "bad row,x,y,,\n"
        )
        geocoder = CsvGeocoder(path)
        record = await geocoder.lookup("WC2N 5DU")
        assert record is not None
        assert (record.lat, record.lon, record.ward_code) == (51.507, -0.127, "E05999994")
        assert await geocoder.lookup("E1 6AN") is None

    async def test_missing_file_is_unavailable(self, tmp_path: Path) -> None:
        with pytest.raises(GeocoderUnavailableError):
            await CsvGeocoder(tmp_path / "absent.csv").lookup("E1 6AN")

    @pytest.mark.skipif(not (LONDON_DATA / "postcodes.csv").is_file(), reason="no London data")
    async def test_the_real_london_file(self) -> None:
        record = await CsvGeocoder(LONDON_DATA / "postcodes.csv").lookup("SW1A 1AA")
        assert record is not None
        assert (record.ward_code, record.borough_code) == ("E05013806", "E09000033")
        assert abs(record.lat - 51.501009) < 1e-6


class TestHttpGeocoder:
    async def test_postcodes_io_answers(self) -> None:
        seen: list[str] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            if (
                request.url.path == "/postcodes/SW1A%201AA"
                or request.url.path == "/postcodes/SW1A 1AA"
            ):
                return httpx.Response(
                    200,
                    json={
                        "status": 200,
                        "result": {
                            "postcode": "SW1A 1AA",
                            "latitude": 51.501009,
                            "longitude": -0.141588,
                            "codes": {"admin_ward": "E05013806", "admin_district": "E09000033"},
                        },
                    },
                )
            if "ZZ" in request.url.path:
                return httpx.Response(500)
            return httpx.Response(404, json={"status": 404, "error": "Postcode not found"})

        geocoder = HttpGeocoder("https://postcodes.test/", transport=httpx.MockTransport(answer))
        try:
            found = await geocoder.lookup("SW1A 1AA")
            missing = await geocoder.lookup("E1 6AN")
            with pytest.raises(GeocoderUnavailableError):
                await geocoder.lookup("ZZ1 1ZZ")
        finally:
            await geocoder.aclose()
        assert found is not None and (found.ward_code, found.lat) == ("E05013806", 51.501009)
        assert missing is None
        assert seen[0].startswith("/postcodes/SW1A")

    async def test_unreachable(self) -> None:
        def fail(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        geocoder = HttpGeocoder("https://postcodes.test", transport=httpx.MockTransport(fail))
        with pytest.raises(GeocoderUnavailableError):
            await geocoder.lookup("E1 6AN")
        await geocoder.aclose()


class TestPostcodeEndpoint:
    async def test_the_records_ward_beats_point_in_polygon(
        self, client: httpx.AsyncClient, app: object, tmp_path: Path
    ) -> None:
        from fastapi import FastAPI

        assert isinstance(app, FastAPI)
        path = tmp_path / "postcodes.csv"
        # The point lies in Dovecote (E05999994) but the record says Acorn Green.
        path.write_text(
            "postcode,lat,lon,ward_code,borough_code\nWC2N 5DU,51.515,-0.125,E05999991,E09999991\n"
            "WC2N 5DX,51.515,-0.125,,\n"
        )
        previous = app.state.geocoder
        app.state.geocoder = CsvGeocoder(path)
        try:
            by_record = await client.get("/lookup/postcodes/wc2n5du")
            by_polygon = await client.get("/lookup/postcodes/WC2N 5DX")
            unknown = await client.get("/lookup/postcodes/E1 6AN")
            invalid = await client.get("/lookup/postcodes/HELLO")
        finally:
            app.state.geocoder = previous
        assert by_record.status_code == 200, by_record.text
        assert (by_record.json()["ward"]["code"], by_record.json()["ward_source"]) == (
            "E05999991",
            "postcode",
        )
        assert (by_polygon.json()["ward"]["code"], by_polygon.json()["ward_source"]) == (
            "E05999994",
            "point-in-polygon",
        )
        assert (unknown.status_code, invalid.status_code) == (404, 422)
