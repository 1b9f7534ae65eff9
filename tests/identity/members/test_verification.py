from __future__ import annotations

import secrets
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.members.service import MemberService, hash_verification_token
from services.identity.models import EmailVerification, Member
from shared.db import utcnow
from tests.identity.factories import (
    PASSWORD,
    email_index,
    link_path,
    register,
    token_of,
    unique_email,
    verification_requests,
    verified_events,
)


async def emailed_link(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
    email: str,
    password: str = PASSWORD,
) -> str:
    """Register and return the path of the newest link emailed for this address."""
    assert (await register(client, email, password)).status_code == 202
    requests = await verification_requests(sessions, email)
    return link_path(requests[-1]["verify_url"], settings.public_base_url)


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + slug)


class TestVerificationLink:
    async def test_works_once_and_announces_the_member_once(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        link = await emailed_link(client, sessions, settings, email)

        first = await client.get(link)
        second = await client.get(link)

        assert first.status_code == 200
        assert first.json() == {"status": "verified"}
        assert_problem(second, 410, "verification-token-used")
        async with sessions() as session:
            member = await session.scalar(
                select(Member).where(Member.email_index == email_index(email))
            )
        assert member is not None
        assert member.email_verified_at is not None
        [event] = await verified_events(sessions, email)
        assert event == {
            "member_id": str(member.id),
            "email": email,
            "pseudonym": member.pseudonym,
        }

    async def test_post_with_the_token_verifies_too(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        token = token_of(await emailed_link(client, sessions, settings, email))

        response = await client.post("/email-verifications", json={"token": token})
        again = await client.post("/email-verifications", json={"token": token})

        assert response.status_code == 200
        assert response.json() == {"status": "verified"}
        assert_problem(again, 410, "verification-token-used")
        assert len(await verified_events(sessions, email)) == 1

    async def test_second_link_after_verifying_announces_nothing_and_keeps_the_password(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        first_link = await emailed_link(client, sessions, settings, email, "first passphrase 1")
        second_link = await emailed_link(client, sessions, settings, email, "second passphrase 2")

        assert (await client.get(second_link)).status_code == 200
        assert (await client.get(first_link)).status_code == 200

        assert len(await verified_events(sessions, email)) == 1
        second = {"email": email, "password": "second passphrase 2"}
        first = {"email": email, "password": "first passphrase 1"}
        assert (await client.post("/tokens", json=second)).status_code == 200
        assert (await client.post("/tokens", json=first)).status_code == 401

    async def test_the_password_sent_with_the_used_link_wins(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        """Someone who registered the address first cannot keep their password on it."""
        email = unique_email()
        await emailed_link(client, sessions, settings, email, "squatter passphrase")
        owners_link = await emailed_link(client, sessions, settings, email, "owner passphrase 9")

        assert (await client.get(owners_link)).status_code == 200

        squatter = {"email": email, "password": "squatter passphrase"}
        owner = {"email": email, "password": "owner passphrase 9"}
        assert (await client.post("/tokens", json=squatter)).status_code == 401
        assert (await client.post("/tokens", json=owner)).status_code == 200

    async def test_unknown_token_is_a_400_problem(self, client: httpx.AsyncClient) -> None:
        unknown = secrets.token_urlsafe(32)

        by_link = await client.get(f"/email-verifications/{unknown}")
        by_post = await client.post("/email-verifications", json={"token": unknown})

        assert_problem(by_link, 400, "verification-token-invalid")
        assert_problem(by_post, 400, "verification-token-invalid")

    async def test_expired_token_is_a_410_problem_and_verifies_nothing(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        link = await emailed_link(client, sessions, settings, email)
        async with sessions.begin() as session:
            await session.execute(
                update(EmailVerification)
                .where(EmailVerification.token_hash == hash_verification_token(token_of(link)))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

        response = await client.get(link)

        assert_problem(response, 410, "verification-token-expired")
        assert await verified_events(sessions, email) == []

    async def test_a_browser_is_sent_to_the_web_client_which_confirms(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        link = await emailed_link(client, sessions, settings, email)

        response = await client.get(link, headers={"Accept": "text/html,application/xhtml+xml"})

        assert response.status_code == 303
        token = token_of(link)
        assert response.headers["location"] == (
            f"{settings.public_base_url}/app#/verify?token={token}"
        )
        # Following the link verified nothing: the page confirms it with a POST.
        assert await verified_events(sessions, email) == []
        confirmed = await client.post("/email-verifications", json={"token": token})
        assert confirmed.status_code == 200
        assert len(await verified_events(sessions, email)) == 1

    async def test_malformed_tokens_never_fail_the_server(self, client: httpx.AsyncClient) -> None:
        for token in ("%00", "..", "a" * 128, "€uro", " "):
            response = await client.get(f"/email-verifications/{token}")
            assert response.status_code in (400, 404), (token, response.text)
            assert response.headers["content-type"] == "application/problem+json"

        too_long = await client.get(f"/email-verifications/{'a' * 129}")
        assert too_long.status_code == 422
        too_long_post = await client.post("/email-verifications", json={"token": "a" * 129})
        assert too_long_post.status_code == 422
        empty_post = await client.post("/email-verifications", json={"token": ""})
        assert empty_post.status_code == 422


class TestVerificationService:
    async def test_expiry_follows_the_setting(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        email = unique_email()
        before = utcnow()

        await MemberService(session, settings).register(email, PASSWORD)

        verification = await session.scalar(
            select(EmailVerification).join(Member).where(Member.email_index == email_index(email))
        )
        assert verification is not None
        ttl = timedelta(hours=settings.email_verification_ttl_h)
        assert before + ttl <= verification.expires_at <= utcnow() + ttl
        assert verification.used_at is None
