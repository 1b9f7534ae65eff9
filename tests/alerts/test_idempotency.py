"""Idempotency-Key on the alerts service's creating POSTs (shared/idempotency.py): a retry
returns the first answer and never makes a second alert; the same key with another body is
refused; concurrent retries make one alert."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.cap.document import CAP_MEDIA_TYPE
from services.alerts.models import Alert
from tests.alerts.cap.test_corpus import LONDON_WARD_AREA, message
from tests.alerts.helpers import alert_request, officer_headers
from tests.support.tokens import auth_header


async def alerts_headlined(sessions: async_sessionmaker[AsyncSession], headline: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Alert).where(Alert.headline == headline)
        )
        return int(count or 0)


class TestIdempotencyKey:
    async def test_a_retry_returns_the_first_answer_and_makes_no_second_alert(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member = uuid.uuid4()
        body = alert_request()
        key = str(uuid.uuid4())

        first = await client.post(
            "/alerts", json=body, headers={**officer_headers(member), "Idempotency-Key": key}
        )
        # A new token, as a client that signed in again before retrying would have.
        retry = await client.post(
            "/alerts", json=body, headers={**officer_headers(member), "Idempotency-Key": key}
        )

        assert first.status_code == 201, first.text
        assert (retry.status_code, retry.json()) == (201, first.json())
        assert retry.headers["idempotent-replayed"] == "true"
        assert await alerts_headlined(sessions, body["headline"]) == 1

    async def test_the_same_key_with_another_body_is_422(self, client: httpx.AsyncClient) -> None:
        member = uuid.uuid4()
        key = str(uuid.uuid4())
        headers = {**officer_headers(member), "Idempotency-Key": key}
        await client.post("/alerts", json=alert_request(), headers=headers)

        reused = await client.post("/alerts", json=alert_request(), headers=headers)

        assert reused.status_code == 422, reused.text
        assert reused.json()["type"].endswith("/idempotency-key-reused")
        assert reused.headers["content-type"] == "application/problem+json"

    async def test_keys_belong_to_their_caller(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        key = str(uuid.uuid4())
        body = alert_request()

        for _ in range(2):
            response = await client.post(
                "/alerts", json=body, headers={**officer_headers(), "Idempotency-Key": key}
            )
            assert response.status_code == 201, response.text
            assert "idempotent-replayed" not in response.headers

        assert await alerts_headlined(sessions, body["headline"]) == 2

    async def test_concurrent_retries_make_one_alert(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member = uuid.uuid4()
        body = alert_request()
        key = str(uuid.uuid4())

        responses = await asyncio.gather(
            *(
                client.post(
                    "/alerts",
                    json=body,
                    headers={**officer_headers(member), "Idempotency-Key": key},
                )
                for _ in range(4)
            )
        )

        assert {r.status_code for r in responses} <= {201, 409}
        assert any(r.status_code == 201 for r in responses)
        assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
        assert await alerts_headlined(sessions, body["headline"]) == 1

    async def test_a_failed_request_leaves_the_key_free(self, client: httpx.AsyncClient) -> None:
        member = uuid.uuid4()
        key = str(uuid.uuid4())
        headers = {**officer_headers(member), "Idempotency-Key": key}

        refused = await client.post("/alerts", json=alert_request(body=""), headers=headers)
        accepted = await client.post("/alerts", json=alert_request(), headers=headers)

        assert refused.status_code == 422
        assert accepted.status_code == 201, accepted.text

    async def test_a_retried_cap_post_returns_the_first_alert(
        self, client: httpx.AsyncClient
    ) -> None:
        client_id = uuid.uuid4()
        document = message("amber-alert-en-es.xml", area=LONDON_WARD_AREA)
        key = str(uuid.uuid4())

        def headers() -> dict[str, str]:
            return {
                **auth_header(
                    roles=[], area_boroughs=["E09000007"], scope="cap:write", member_id=client_id
                ),
                "Content-Type": CAP_MEDIA_TYPE,
                "Idempotency-Key": key,
            }

        first = await client.post("/alerts/cap", content=document, headers=headers())
        retry = await client.post("/alerts/cap", content=document, headers=headers())

        assert first.status_code == 201, first.text
        assert retry.json()["id"] == first.json()["id"]

    async def test_a_malformed_key_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/alerts",
            json=alert_request(),
            headers={**officer_headers(), "Idempotency-Key": "with space"},
        )

        assert response.status_code == 400
        assert response.json()["type"].endswith("/idempotency-key-invalid")
