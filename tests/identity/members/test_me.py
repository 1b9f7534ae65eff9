from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from tests.identity.factories import register_and_verify, sign_in, unique_email
from tests.support.tokens import auth_header


def assert_unauthorised(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


class TestMe:
    async def test_signed_in_member_sees_themselves(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        await register_and_verify(client, sessions, settings.public_base_url, email)
        token = await sign_in(client, email)

        response = await client.get("/members/me", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {
            "member_id",
            "pseudonym",
            "roles",
            "email_verified",
            "verification_level",
            "organisation_id",
            "two_factor_enabled",
        }
        uuid.UUID(body["member_id"])
        assert body["pseudonym"].startswith("Neighbour ")
        assert body["roles"] == ["resident"]
        assert body["email_verified"] is True
        assert body["verification_level"] == "email"
        assert body["organisation_id"] is None
        assert body["two_factor_enabled"] is False
        assert email not in response.text

    async def test_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert_unauthorised(await client.get("/members/me"))

    async def test_with_a_malformed_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/members/me", headers={"Authorization": "Bearer nonsense"})

        assert_unauthorised(response)

    async def test_with_a_token_from_a_foreign_key_is_401(self, client: httpx.AsyncClient) -> None:
        """The test suite's own signing key is not one of identity's."""
        response = await client.get("/members/me", headers=auth_header(roles=["admin"]))

        assert_unauthorised(response)
