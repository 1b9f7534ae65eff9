"""A member's ward subscriptions over HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.geo.conftest import TEST_MAX_SUBSCRIPTIONS
from tests.geo.factories import PROBLEM_JSON
from tests.support.tokens import auth_header


def member() -> tuple[uuid.UUID, dict[str, str]]:
    member_id = uuid.uuid4()
    return member_id, auth_header(roles=["resident"], member_id=member_id)


class TestSubscribe:
    async def test_subscribe_then_list(self, client: httpx.AsyncClient) -> None:
        _, headers = member()

        created = await client.post(
            "/subscriptions", json={"ward_code": "E05999992"}, headers=headers
        )
        listed = await client.get("/subscriptions", headers=headers)

        assert created.status_code == 201, created.text
        subscription = created.json()
        assert subscription["ward_code"] == "E05999992"
        assert subscription["ward_name"] == "Bramble Hill"
        assert listed.status_code == 200
        assert listed.json() == [subscription]

    async def test_second_subscription_to_the_same_ward_is_409(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = member()
        first = await client.post(
            "/subscriptions", json={"ward_code": "E05999991"}, headers=headers
        )

        again = await client.post(
            "/subscriptions", json={"ward_code": "E05999991"}, headers=headers
        )

        assert first.status_code == 201
        assert again.status_code == 409
        assert again.headers["content-type"] == PROBLEM_JSON
        assert again.json()["type"] == "https://tawny.london/problems/already-subscribed"
        assert len((await client.get("/subscriptions", headers=headers)).json()) == 1

    async def test_a_ward_not_in_the_current_set_is_422(self, client: httpx.AsyncClient) -> None:
        _, headers = member()

        response = await client.post(
            "/subscriptions", json={"ward_code": "E05000000"}, headers=headers
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["type"] == "https://tawny.london/problems/unknown-ward"
        assert (await client.get("/subscriptions", headers=headers)).json() == []

    @pytest.mark.parametrize(
        "body", [{"ward_code": "nope"}, {}, {"ward_code": "E05999991", "x": 1}]
    )
    async def test_malformed_request_is_422(
        self, client: httpx.AsyncClient, body: dict[str, object]
    ) -> None:
        _, headers = member()
        response = await client.post("/subscriptions", json=body, headers=headers)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON

    async def test_more_than_the_limit_is_refused(self, client: httpx.AsyncClient) -> None:
        _, headers = member()
        codes = ["E05999991", "E05999992", "E05999993", "E05999994"]
        statuses = [
            (
                await client.post("/subscriptions", json={"ward_code": c}, headers=headers)
            ).status_code
            for c in codes[: TEST_MAX_SUBSCRIPTIONS + 1]
        ]
        assert statuses == [201] * TEST_MAX_SUBSCRIPTIONS + [422]

    async def test_signing_in_is_required(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/subscriptions", json={"ward_code": "E05999991"})
        listed = await client.get("/subscriptions")
        assert (created.status_code, listed.status_code) == (401, 401)


class TestUnsubscribe:
    async def test_delete_my_own(self, client: httpx.AsyncClient) -> None:
        _, headers = member()
        created = await client.post(
            "/subscriptions", json={"ward_code": "E05999993"}, headers=headers
        )
        subscription_id = created.json()["id"]

        deleted = await client.delete(f"/subscriptions/{subscription_id}", headers=headers)
        again = await client.delete(f"/subscriptions/{subscription_id}", headers=headers)

        assert deleted.status_code == 204
        assert deleted.content == b""
        assert again.status_code == 404
        assert (await client.get("/subscriptions", headers=headers)).json() == []

    async def test_someone_elses_is_404_and_stays(self, client: httpx.AsyncClient) -> None:
        _, owner = member()
        _, intruder = member()
        created = await client.post(
            "/subscriptions", json={"ward_code": "E05999994"}, headers=owner
        )
        subscription_id = created.json()["id"]

        response = await client.delete(f"/subscriptions/{subscription_id}", headers=intruder)

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["type"] == "https://tawny.london/problems/subscription-not-found"
        assert [s["id"] for s in (await client.get("/subscriptions", headers=owner)).json()] == [
            subscription_id
        ]
        assert (await client.get("/subscriptions", headers=intruder)).json() == []

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        _, headers = member()
        response = await client.delete("/subscriptions/not-a-uuid", headers=headers)
        assert response.status_code == 422
