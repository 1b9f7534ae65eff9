"""Rotating refresh tokens, reuse detection, signing out (here and everywhere)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from tests.identity.factories import bearer, claims_of, create_member, sign_in_body


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/tokens/refresh", json={"refresh_token": token})


class TestRefresh:
    async def test_a_refresh_token_gives_a_new_pair_once(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, email = await create_member(sessions, settings, "resident")
        first = await sign_in_body(client, email)
        assert first["refresh_expires_in"] == settings.refresh_token_ttl_h * 3600

        response = await refresh(client, first["refresh_token"])

        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert claims_of(second["access_token"])["sub"] == str(member_id)
        assert (await refresh(client, second["refresh_token"])).status_code == 200

    async def test_reusing_a_refresh_token_revokes_its_whole_family(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident")
        stolen = (await sign_in_body(client, email))["refresh_token"]
        other_device = (await sign_in_body(client, email))["refresh_token"]
        rightful = (await refresh(client, stolen)).json()["refresh_token"]

        reuse = await refresh(client, stolen)

        assert reuse.status_code == 401
        assert reuse.headers["content-type"] == "application/problem+json"
        assert reuse.json()["type"].endswith("/refresh-token-invalid")
        # The thief's copy and the rightful holder's newer token are both dead now ...
        assert (await refresh(client, rightful)).status_code == 401
        # ... but another sign-in of the same member is another family and still works.
        assert (await refresh(client, other_device)).status_code == 200

    async def test_unknown_refresh_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await refresh(client, "not-a-token")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    async def test_over_long_refresh_token_is_422(self, client: httpx.AsyncClient) -> None:
        assert (await refresh(client, "x" * 129)).status_code == 422


class TestSignOut:
    async def test_revocation_ends_that_sign_in_only(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident")
        laptop = (await sign_in_body(client, email))["refresh_token"]
        phone = (await sign_in_body(client, email))["refresh_token"]
        rotated = (await refresh(client, laptop)).json()["refresh_token"]

        response = await client.post("/tokens/revocation", json={"refresh_token": rotated})

        assert response.status_code == 204
        assert (await refresh(client, rotated)).status_code == 401
        assert (await refresh(client, phone)).status_code == 200

    async def test_revoking_an_unknown_token_is_quietly_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/tokens/revocation", json={"refresh_token": "unknown"})
        assert response.status_code == 204

    async def test_sign_out_everywhere_revokes_every_refresh_token(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident")
        first = await sign_in_body(client, email)
        second = await sign_in_body(client, email)

        response = await client.post(
            "/members/me/sign-out-everywhere", headers=bearer(first["access_token"])
        )

        assert response.status_code == 204
        for body in (first, second):
            assert (await refresh(client, body["refresh_token"])).status_code == 401
