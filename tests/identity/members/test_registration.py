from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.members.service import hash_verification_token
from services.identity.models import EmailVerification, Member
from tests.identity.factories import (
    PASSWORD,
    email_index,
    link_path,
    register,
    register_and_verify,
    token_of,
    unique_email,
    verification_requests,
)

ACCEPTED = {
    "status": "pending_verification",
    "detail": "If this address can be registered, a verification link is on its way.",
}


async def count_members(sessions: async_sessionmaker[AsyncSession], email: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Member).where(Member.email_index == email_index(email))
        )
        return count or 0


class TestRegistration:
    async def test_new_member_gets_one_working_verification_link(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()

        response = await register(client, email)

        assert response.status_code == 202
        assert response.json() == ACCEPTED
        [request] = await verification_requests(sessions, email)
        assert re.fullmatch(r"Neighbour \d{4,6}", request["pseudonym"])
        url = request["verify_url"]
        assert url.startswith(f"{settings.public_base_url}/api/identity/email-verifications/")
        verified = await client.get(link_path(url, settings.public_base_url))
        assert verified.status_code == 200
        assert verified.json() == {"status": "verified"}

    async def test_stores_a_resident_with_an_argon2id_hash_and_only_the_token_digest(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        email = unique_email()
        await register(client, email)
        [request] = await verification_requests(sessions, email)
        token = token_of(request["verify_url"])

        async with sessions() as session:
            member = await session.scalar(
                select(Member).where(Member.email_index == email_index(email))
            )
            assert member is not None
            verification = await session.scalar(
                select(EmailVerification).where(EmailVerification.member_id == member.id)
            )
        assert member.roles == ["resident"]
        assert member.email_verified_at is None
        assert member.password_hash.startswith("$argon2id$")
        assert PASSWORD not in member.password_hash
        assert verification is not None
        assert verification.token_hash == hash_verification_token(token)
        assert token not in verification.token_hash
        assert len(token) >= 43  # 32 random bytes, base64url

    async def test_email_is_normalised(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        email = unique_email()

        await register(client, f"  {email.upper()} ")

        assert await count_members(sessions, email) == 1
        assert len(await verification_requests(sessions, email)) == 1

    async def test_repeat_for_unverified_address_gives_same_answer_and_a_new_link(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        email = unique_email()
        first = await register(client, email)

        second = await register(client, email.upper(), "another good passphrase")

        assert second.status_code == first.status_code == 202
        assert second.json() == first.json() == ACCEPTED
        assert await count_members(sessions, email) == 1
        requests = await verification_requests(sessions, email)
        assert len(requests) == 2
        assert requests[0]["member_id"] == requests[1]["member_id"]
        assert requests[0]["pseudonym"] == requests[1]["pseudonym"]
        assert requests[0]["verify_url"] != requests[1]["verify_url"]

    async def test_repeat_for_verified_address_gives_same_answer_and_sends_nothing(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        await register_and_verify(client, sessions, settings.public_base_url, email)

        again = await register(client, email, "somebody else's passphrase")

        assert again.status_code == 202
        assert again.json() == ACCEPTED
        assert await count_members(sessions, email) == 1
        assert len(await verification_requests(sessions, email)) == 1
        # The verified member's password is untouched.
        signed_in = await client.post("/tokens", json={"email": email, "password": PASSWORD})
        assert signed_in.status_code == 200


class TestRegistrationInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"email": "sam@example.com", "password": "short"}, "password"),
            ({"email": "sam@example.com", "password": "x" * 129}, "password"),
            ({"email": "sam@example.com", "password": "Password123"}, "password"),
            ({"email": "sam@example.com", "password": "qwertyuiop"}, "password"),
            ({"email": "not-an-address", "password": PASSWORD}, "email"),
            ({"email": "sam@tawny.test", "password": PASSWORD}, "email"),
            ({"email": "a" * 250 + "@example.com", "password": PASSWORD}, "email"),
            ({"email": "x@" + "a" * 5000 + ".com", "password": PASSWORD}, "email"),
            ({"email": 12, "password": PASSWORD}, "email"),
            ({"password": PASSWORD}, "email"),
            ({"email": "sam@example.com"}, "password"),
            ({"email": "sam@example.com", "password": PASSWORD, "roles": ["admin"]}, "roles"),
        ],
    )
    async def test_bad_input_is_a_422_problem(
        self, client: httpx.AsyncClient, body: dict[str, Any], field: str
    ) -> None:
        response = await client.post("/members", json=body)

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].endswith("/invalid-request")
        assert problem["status"] == 422
        assert any(error["loc"][-1] == field for error in problem["errors"])

    async def test_not_json_is_a_422_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/members", content=b"{not json", headers={"content-type": "application/json"}
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
