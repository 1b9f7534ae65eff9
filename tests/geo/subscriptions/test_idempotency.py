"""Idempotency-Key in geo (shared/idempotency.py): a retried subscription returns the first
answer instead of a 409, and makes one subscription."""

from __future__ import annotations

import uuid

import httpx

from tests.support.tokens import auth_header


class TestIdempotencyKey:
    async def test_a_retried_subscription_is_answered_as_the_first(
        self, client: httpx.AsyncClient
    ) -> None:
        member_id = uuid.uuid4()
        key = str(uuid.uuid4())

        def headers() -> dict[str, str]:
            return {
                **auth_header(roles=["resident"], member_id=member_id),
                "Idempotency-Key": key,
            }

        first = await client.post(
            "/subscriptions", json={"ward_code": "E05999992"}, headers=headers()
        )
        retry = await client.post(
            "/subscriptions", json={"ward_code": "E05999992"}, headers=headers()
        )
        listed = await client.get("/subscriptions", headers=headers())

        assert first.status_code == 201, first.text
        assert (retry.status_code, retry.json()) == (201, first.json())
        assert len(listed.json()) == 1
