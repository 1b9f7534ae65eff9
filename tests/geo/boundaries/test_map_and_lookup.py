"""Map layers (simplified GeoJSON with ETag) and point lookup on the demo geography."""

from __future__ import annotations

import httpx

from tests.geo.factories import PROBLEM_JSON


class TestMapLayers:
    async def test_wards_layer_then_304_with_its_etag(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/map/wards.geojson")

        assert first.status_code == 200
        assert first.headers["content-type"] == "application/geo+json"
        document = first.json()
        assert document["type"] == "FeatureCollection"
        assert {f["properties"]["code"] for f in document["features"]} >= {"E05999991", "E05999994"}
        etag = first.headers["etag"]
        again = await client.get("/map/wards.geojson", headers={"If-None-Match": etag})
        weak = await client.get(
            "/map/wards.geojson", headers={"If-None-Match": f'"other", W/{etag}'}
        )
        stale = await client.get("/map/wards.geojson", headers={"If-None-Match": '"stale"'})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
        assert weak.status_code == 304
        assert stale.status_code == 200

    async def test_boroughs_layer_and_unknown_layer(self, client: httpx.AsyncClient) -> None:
        boroughs = await client.get("/map/boroughs.geojson")
        unknown = await client.get("/map/parishes.geojson")
        assert boroughs.json()["features"][0]["properties"]["code"] == "E09999991"
        assert boroughs.headers["etag"] != (await client.get("/map/wards.geojson")).headers["etag"]
        assert unknown.status_code == 422


class TestPointLookup:
    async def test_point_in_a_demo_ward(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/lookup/point", params={"lat": 51.515, "lon": -0.125})
        assert response.status_code == 200
        found = response.json()
        assert found["ward"] == {"code": "E05999994", "name": "Dovecote"}
        assert found["borough"]["code"] == "E09999991"

    async def test_outside_every_ward_is_404_and_outside_the_uk_422(
        self, client: httpx.AsyncClient
    ) -> None:
        nowhere = await client.get("/lookup/point", params={"lat": 53.0, "lon": -1.0})
        abroad = await client.get("/lookup/point", params={"lat": 48.85, "lon": 2.35})
        assert nowhere.status_code == 404
        assert abroad.status_code == 422
        assert abroad.headers["content-type"] == PROBLEM_JSON
