"""The boundaries API over HTTP: the admin import and the public reads of the current set."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.models import BoundarySet, Ward
from tests.geo.conftest import TEST_MAX_FEATURES, TEST_MAX_VERTICES
from tests.geo.factories import PROBLEM_JSON, bow_tie, demo_collections
from tests.support.tokens import auth_header


def admin() -> dict[str, str]:
    """A fresh token for each request: one minted at import would expire in a long run."""
    return auth_header(roles=["platform_admin"])


def body(name: str | None = None) -> dict[str, Any]:
    boroughs, wards = demo_collections()
    return {"name": name or f"demo {uuid.uuid4().hex[:8]}", "boroughs": boroughs, "wards": wards}


async def boundary_state(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, uuid.UUID]:
    """(sets, wards, current set id): what a refused import must leave untouched."""
    async with sessions() as session:
        sets = await session.scalar(select(func.count()).select_from(BoundarySet))
        wards = await session.scalar(select(func.count()).select_from(Ward))
        current = await session.scalar(select(BoundarySet.id).where(BoundarySet.is_current))
    assert sets is not None and wards is not None and current is not None
    return sets, wards, current


class TestImportBoundarySet:
    async def test_admin_imports_the_demo_geography_which_becomes_current(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        _, _, before = await boundary_state(sessions)
        request = body("demo via the API")

        response = await client.post("/admin/boundary-sets", json=request, headers=admin())

        assert response.status_code == 201, response.text
        summary = response.json()
        assert summary["name"] == "demo via the API"
        assert (summary["borough_count"], summary["ward_count"]) == (1, 4)
        assert summary["vertex_count"] == 25
        assert summary["replaced_set_id"] == str(before)
        async with sessions() as session:
            current = (
                await session.scalars(select(BoundarySet).where(BoundarySet.is_current))
            ).all()
            old = await session.get(BoundarySet, before)
        assert [s.id for s in current] == [uuid.UUID(summary["id"])]
        assert old is not None and not old.is_current
        ward = (await client.get("/wards/E05999993")).json()
        assert ward["boundary_set_id"] == summary["id"]

    async def test_bow_tie_is_refused_with_problem_json_and_nothing_stored(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        before = await boundary_state(sessions)
        request = body()
        request["wards"]["features"][1]["geometry"] = bow_tie()

        response = await client.post("/admin/boundary-sets", json=request, headers=admin())

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        problem = response.json()
        assert problem["type"] == "https://tawny.london/problems/boundary-set-refused"
        assert "Self-intersection" in problem["detail"]
        assert len(problem["problems"]) == 1
        assert problem["problems"][0].startswith("wards.features[1] (E05999992)")
        assert await boundary_state(sessions) == before

    async def test_missing_properties_are_refused_with_problem_json_and_nothing_stored(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        before = await boundary_state(sessions)
        request = body()
        del request["boroughs"]["features"][0]["properties"]["code"]
        del request["wards"]["features"][0]["properties"]["name"]

        response = await client.post("/admin/boundary-sets", json=request, headers=admin())

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        problems = response.json()["problems"]
        assert "boroughs.features[0]: the property 'code' is missing" in problems
        assert "wards.features[0] (E05999991): the property 'name' is missing" in problems
        assert await boundary_state(sessions) == before

    async def test_not_a_feature_collection_is_a_422_problem(
        self, client: httpx.AsyncClient
    ) -> None:
        request = body()
        request["wards"] = {"type": "Topology", "objects": {}}

        response = await client.post("/admin/boundary-sets", json=request, headers=admin())

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["type"] == "https://tawny.london/problems/invalid-request"

    @pytest.mark.parametrize("roles", [["resident"], ["officer"]])
    async def test_only_admins_may_import(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        roles: list[str],
    ) -> None:
        before = await boundary_state(sessions)

        response = await client.post(
            "/admin/boundary-sets", json=body(), headers=auth_header(roles=roles)
        )

        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM_JSON
        assert await boundary_state(sessions) == before

    async def test_anonymous_import_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/admin/boundary-sets", json=body())
        assert response.status_code == 401

    async def test_too_many_features_is_413(self, client: httpx.AsyncClient) -> None:
        request = body()
        template = request["wards"]["features"][0]
        request["wards"]["features"] = [
            {**template, "properties": {**template["properties"], "code": f"E05{i:06d}"}}
            for i in range(TEST_MAX_FEATURES + 1)
        ]

        response = await client.post("/admin/boundary-sets", json=request, headers=admin())

        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["features"] == TEST_MAX_FEATURES + 1

    async def test_too_many_vertices_is_413(self, client: httpx.AsyncClient) -> None:
        request = body()
        ring = [[-0.14 + i * 1e-6, 51.50] for i in range(TEST_MAX_VERTICES)]
        ring += [[-0.13, 51.51], ring[0]]
        request["boroughs"]["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [ring]}

        response = await client.post("/admin/boundary-sets", json=request, headers=admin())

        assert response.status_code == 413
        assert response.json()["collection"] == "boroughs"

    async def test_oversized_body_is_refused_with_413_before_parsing(
        self, client: httpx.AsyncClient
    ) -> None:
        request = body()
        request["name"] = "x" * 300_000  # over the test cap of 200,000 bytes

        response = await client.post("/admin/boundary-sets", json=request, headers=admin())

        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["type"] == "https://tawny.london/problems/request-body-too-large"

    async def test_oversized_body_without_content_length_is_refused_with_413(
        self, client: httpx.AsyncClient
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": "'
            for _ in range(30):
                yield b"x" * 10_000
            yield b'"}'

        response = await client.post(
            "/admin/boundary-sets",
            content=chunks(),
            headers={**admin(), "content-type": "application/json"},
        )

        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM_JSON


class TestReadWards:
    async def test_search_by_name_is_case_insensitive(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/wards", params={"q": "aCoRn"})

        assert response.status_code == 200
        assert response.json() == [
            {
                "code": "E05999991",
                "name": "Acorn Green",
                "borough_code": "E09999991",
                "borough_name": "Demo Borough",
                "bbox": pytest.approx([-0.14, 51.50, -0.13, 51.51]),
            }
        ]

    async def test_names_starting_with_the_query_come_first(
        self, client: httpx.AsyncClient
    ) -> None:
        names = [w["name"] for w in (await client.get("/wards", params={"q": "co"})).json()]
        assert names == ["Copper Lane", "Acorn Green", "Dovecote"]

    async def test_borough_filter_and_limit(self, client: httpx.AsyncClient) -> None:
        demo = (await client.get("/wards", params={"borough": "E09999991", "limit": 3})).json()
        other = (await client.get("/wards", params={"borough": "E09000001"})).json()

        assert [w["code"] for w in demo] == ["E05999991", "E05999992", "E05999993"]
        assert other == []

    async def test_like_wildcards_in_the_query_are_literal(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/wards", params={"q": "%"})).json() == []
        assert (await client.get("/wards", params={"q": "_"})).json() == []

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 101},
            {"borough": "Westminster"},
            {"q": "x" * 101},
            {"q": "\x00"},
            {"q": "st\x00j"},
        ],
    )
    async def test_bad_query_parameters_are_422(
        self, client: httpx.AsyncClient, params: dict[str, Any]
    ) -> None:
        response = await client.get("/wards", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON

    async def test_one_ward_with_its_geometry(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/wards/E05999994")

        assert response.status_code == 200
        ward = response.json()
        assert ward["name"] == "Dovecote"
        assert ward["borough_name"] == "Demo Borough"
        assert ward["geometry"] == {
            "type": "Polygon",
            "coordinates": [
                [[-0.13, 51.51], [-0.12, 51.51], [-0.12, 51.52], [-0.13, 51.52], [-0.13, 51.51]]
            ],
        }

    async def test_unknown_ward_is_404_and_malformed_code_422(
        self, client: httpx.AsyncClient
    ) -> None:
        missing = await client.get("/wards/E05000000")
        malformed = await client.get("/wards/not-a-code")

        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM_JSON
        assert missing.json()["type"] == "https://tawny.london/problems/ward-not-found"
        assert malformed.status_code == 422


class TestReadBoroughs:
    async def test_lists_boroughs_with_ward_counts(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/boroughs")

        assert response.status_code == 200
        assert response.json() == [
            {
                "code": "E09999991",
                "name": "Demo Borough",
                "ward_count": 4,
                "bbox": pytest.approx([-0.14, 51.50, -0.12, 51.52]),
            }
        ]
