"""Watching circles, drawn areas and neighbourhoods over HTTP; every bad shape is a quick 422."""

from __future__ import annotations

import math
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import AreaCell, WatchedWard
from services.geo.subscriptions.service import SubscriptionService
from tests.geo.factories import PROBLEM_JSON, bow_tie, square
from tests.support.tokens import auth_header


def member() -> tuple[uuid.UUID, dict[str, str]]:
    member_id = uuid.uuid4()
    return member_id, auth_header(roles=["resident"], member_id=member_id)


def many_vertices(count: int) -> dict[str, Any]:
    ring = [
        [
            -0.13 + 0.005 * math.cos(2 * math.pi * i / count),
            51.505 + 0.005 * math.sin(2 * math.pi * i / count),
        ]
        for i in range(count)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


class TestAreas:
    async def test_circle_polygon_and_neighbours_with_filters(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = member()
        bodies = [
            {
                "kind": "circle",
                "circle": {"lat": 51.505, "lon": -0.13, "radius_m": 800},
                "label": "Office",
                "categories": ["robbery"],
                "min_severity": "Severe",
            },
            {"kind": "polygon", "polygon": square(-0.135, 51.505, 0.005)},
            {"kind": "neighbours", "ward_code": "E05999991"},
        ]
        created = [
            await client.post("/subscriptions", json=body, headers=headers) for body in bodies
        ]

        assert [r.status_code for r in created] == [201, 201, 201], [r.text for r in created]
        circle, polygon, neighbours = (r.json() for r in created)
        assert circle["circle"] == {"lat": 51.505, "lon": -0.13, "radius_m": 800.0}
        assert (circle["categories"], circle["min_severity"], circle["label"]) == (
            ["robbery"],
            "Severe",
            "Office",
        )
        assert polygon["polygon"]["type"] == "Polygon"
        assert neighbours["ward_name"] == "Acorn Green"
        listed = (await client.get("/subscriptions", headers=headers)).json()
        assert [s["kind"] for s in listed] == ["circle", "polygon", "neighbours"]

        changed = await client.patch(
            f"/subscriptions/{circle['id']}",
            json={"all_categories": True, "min_severity": "Minor"},
            headers=headers,
        )
        assert changed.status_code == 200
        assert (changed.json()["categories"], changed.json()["min_severity"]) == (None, "Minor")

    async def test_index_rows_follow_the_subscription(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = member()
        created = await client.post(
            "/subscriptions",
            json={"kind": "circle", "circle": {"lat": 51.51, "lon": -0.13, "radius_m": 300}},
            headers=headers,
        )
        subscription_id = uuid.UUID(created.json()["id"])
        wards = {
            w.ward_code for w in (await session.scalars(_rows(WatchedWard, subscription_id))).all()
        }
        cells = (await session.scalars(_rows(AreaCell, subscription_id))).all()
        # On the corner of all four demo wards.
        assert wards == {"E05999991", "E05999992", "E05999993", "E05999994"}
        assert cells

        await client.delete(f"/subscriptions/{subscription_id}", headers=headers)
        assert (await session.scalars(_rows(WatchedWard, subscription_id))).all() == []

    async def test_home_ward_is_set_and_replaced_and_erasure_deletes_everything(
        self, session: AsyncSession
    ) -> None:
        member_id = uuid.uuid4()
        await SubscriptionService(session).set_home_ward(member_id, "E05999991")
        home = await SubscriptionService(session).set_home_ward(member_id, "E05999992")
        assert (home.kind, home.ward_code) == ("home", "E05999992")

        assert await SubscriptionService(session).erase_member(member_id) == 1


def _rows(model: type[WatchedWard] | type[AreaCell], subscription_id: uuid.UUID) -> Any:
    from sqlalchemy import select

    return select(model).where(model.subscription_id == subscription_id)


BAD_BODIES = {
    "self_intersecting": {"kind": "polygon", "polygon": bow_tie()},
    "over_10000_vertices": {"kind": "polygon", "polygon": many_vertices(10_001)},
    "radius_too_small": {"kind": "circle", "circle": {"lat": 51.5, "lon": -0.1, "radius_m": 50}},
    "radius_too_large": {"kind": "circle", "circle": {"lat": 51.5, "lon": -0.1, "radius_m": 5001}},
    "outside_the_uk": {"kind": "circle", "circle": {"lat": 40.7, "lon": -74.0, "radius_m": 500}},
    "polygon_outside_the_uk": {"kind": "polygon", "polygon": square(2.3, 48.8)},
    "not_a_polygon": {
        "kind": "polygon",
        "polygon": {"type": "LineString", "coordinates": [[0, 51], [1, 52]]},
    },
    "circle_without_centre": {"kind": "circle", "circle": {"radius_m": 500}},
    "ward_and_circle": {
        "kind": "circle",
        "ward_code": "E05999991",
        "circle": {"lat": 51.5, "lon": -0.1, "radius_m": 500},
    },
    "unknown_category": {"ward_code": "E05999991", "categories": ["arson"]},
}


class TestBadInput:
    @pytest.mark.parametrize("name", sorted(BAD_BODIES))
    async def test_problem_json_422(self, client: httpx.AsyncClient, name: str) -> None:
        # Refused by validation, before any geometry work (speed is measured by benchmarks,
        # never asserted here: it depends on the machine).
        _, headers = member()
        response = await client.post("/subscriptions", json=BAD_BODIES[name], headers=headers)

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert (await client.get("/subscriptions", headers=headers)).json() == []

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    async def test_nan_and_infinity(self, client: httpx.AsyncClient, literal: str) -> None:
        _, headers = member()
        body = f'{{"kind": "circle", "circle": {{"lat": {literal}, "lon": -0.1, "radius_m": 500}}}}'
        response = await client.post(
            "/subscriptions", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON

    async def test_a_huge_body_is_413(self, client: httpx.AsyncClient, settings: Any) -> None:
        _, headers = member()
        response = await client.post(
            "/subscriptions",
            content=b"[" + b"0," * settings.max_area_body_bytes + b"0]",
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 413
