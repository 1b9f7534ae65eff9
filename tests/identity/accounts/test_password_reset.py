"""Password reset: reveals nothing, works once, ends other sessions."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from shared.events import PasswordResetRequested
from tests.identity.factories import (
    PASSWORD,
    create_member,
    register,
    sign_in_body,
    staged_events,
    unique_email,
)

NEW_PASSWORD = "a brand new passphrase 7"


async def reset_token(sessions: async_sessionmaker[AsyncSession], email: str) -> str:
    [row] = await staged_events(sessions, PasswordResetRequested.event_type, email)
    url: str = row.envelope["payload"]["reset_url"]
    return url.split("#token=", 1)[1]


class TestPasswordReset:
    async def test_known_and_unknown_addresses_get_the_same_answer(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, known = await create_member(sessions, settings, "resident")
        unknown = unique_email("nobody")
        unverified = unique_email("unverified")
        await register(client, unverified)

        answers = [
            await client.post("/password-resets", json={"email": email})
            for email in (known, unknown, unverified)
        ]

        assert {response.status_code for response in answers} == {202}
        assert len({response.text for response in answers}) == 1
        assert len(await staged_events(sessions, PasswordResetRequested.event_type, known)) == 1
        for email in (unknown, unverified):
            assert await staged_events(sessions, PasswordResetRequested.event_type, email) == []

    async def test_the_link_sets_a_new_password_once_and_ends_other_sessions(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident")
        old_session = await sign_in_body(client, email)
        await client.post("/password-resets", json={"email": email})
        token = await reset_token(sessions, email)

        response = await client.post(
            "/password-resets/confirmation", json={"token": token, "password": NEW_PASSWORD}
        )

        assert response.status_code == 200
        assert response.json() == {"status": "password_changed"}
        old = await client.post("/tokens", json={"email": email, "password": PASSWORD})
        assert old.status_code == 401
        await sign_in_body(client, email, NEW_PASSWORD)
        refreshed = await client.post(
            "/tokens/refresh", json={"refresh_token": old_session["refresh_token"]}
        )
        assert refreshed.status_code == 401
        again = await client.post(
            "/password-resets/confirmation",
            json={"token": token, "password": "yet another passphrase"},
        )
        assert again.status_code == 400
        assert again.headers["content-type"] == "application/problem+json"

    async def test_the_new_password_follows_the_policy(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/password-resets/confirmation", json={"token": "t", "password": "password123"}
        )
        assert response.status_code == 422

    async def test_an_over_long_address_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/password-resets", json={"email": "a" * 250 + "@example.com"})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
