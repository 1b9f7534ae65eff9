"""GET /endpoints/me: the caller's channels, addresses masked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.members.schemas import mask_email
from services.dispatch.models import ChannelKind
from tests.dispatch.helpers import add_email_endpoint, endpoint_of
from tests.support.tokens import auth_header


class TestMyEndpoints:
    async def test_lists_the_callers_email_masked(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        verified_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        async with sessions.begin() as session:
            await add_email_endpoint(
                session, member_id, f"jo-{member_id.hex[:8]}@example.org", verified_at=verified_at
            )

        response = await client.get("/endpoints/me", headers=auth_header(member_id=member_id))

        assert response.status_code == 200
        async with sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.EMAIL)
        assert endpoint is not None
        assert response.json() == [
            {
                "id": str(endpoint.id),
                "registered_at": endpoint.created_at.isoformat().replace("+00:00", "Z"),
                "channel": "email",
                "address": "j***@example.org",
                "verified_at": verified_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "enabled": True,
            }
        ]

    async def test_is_empty_before_any_address_is_verified(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/endpoints/me", headers=auth_header(member_id=uuid.uuid4()))

        assert response.status_code == 200
        assert response.json() == []

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/endpoints/me")

        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


class TestMaskEmail:
    def test_keeps_the_first_letter_and_the_domain(self) -> None:
        assert mask_email("jo.bloggs@example.com") == "j***@example.com"

    def test_hides_even_a_one_letter_local_part(self) -> None:
        assert mask_email("j@example.com") == "j***@example.com"

    def test_hides_whatever_is_not_an_address(self) -> None:
        assert mask_email("not-an-address") == "***"
