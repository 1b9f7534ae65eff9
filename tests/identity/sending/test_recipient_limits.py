"""Tawny cannot be used to flood an inbox: verification and password-reset emails are limited
per address, and the answers stay the same whether or not the address has an account."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.sending.repository import RecipientSendRepository
from services.identity.sending.service import EmailKind, RecipientLimit
from shared.db import utcnow
from shared.events import PasswordResetRequested
from tests.identity.factories import (
    create_member,
    register,
    staged_events,
    unique_email,
    verification_requests,
)


class TestRegistrationEmails:
    async def test_fifteen_registrations_of_one_address_send_only_the_allowed_emails(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email("outsider")

        answers = [await register(client, email) for _ in range(15)]

        assert {response.status_code for response in answers} == {202}
        assert len({response.text for response in answers}) == 1
        sent = await verification_requests(sessions, email)
        assert len(sent) == settings.emails_per_address

    async def test_another_address_is_not_held_back(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        flooded, other = unique_email("flooded"), unique_email("other")
        for _ in range(10):
            await register(client, flooded)

        await register(client, other)

        assert len(await verification_requests(sessions, other)) == 1


class TestPasswordResetEmails:
    async def test_twenty_resets_for_one_member_send_only_the_allowed_emails(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, known = await create_member(sessions, settings, "resident")
        unknown = unique_email("nobody")

        answers = [
            await client.post("/password-resets", json={"email": email})
            for _ in range(20)
            for email in (known, unknown)
        ]

        assert {response.status_code for response in answers} == {202}
        assert len({response.text for response in answers}) == 1
        sent = await staged_events(sessions, PasswordResetRequested.event_type, known)
        assert len(sent) == settings.emails_per_address


class TestRecipientLimit:
    async def test_a_new_window_allows_emails_again(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        limit = RecipientLimit(session, settings)
        email = unique_email("window")
        allowed = [await limit.allows(EmailKind.VERIFICATION, email) for _ in range(5)]
        assert allowed == [True] * settings.emails_per_address + [False] * (
            5 - settings.emails_per_address
        )

        # The window started an hour ago as far as the next request can tell.
        later = utcnow() + timedelta(minutes=settings.email_limit_window_min + 1)
        key = f"{EmailKind.VERIFICATION.value}:{limit.key_of(email)}"
        requests = await RecipientSendRepository(session).count_request(
            key, at=later, window_started_after=later - timedelta(minutes=60)
        )

        assert requests == 1

    async def test_kinds_are_counted_apart(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        limit = RecipientLimit(session, settings)
        email = unique_email("kinds")
        for _ in range(settings.emails_per_address):
            assert await limit.allows(EmailKind.VERIFICATION, email)

        assert await limit.allows(EmailKind.PASSWORD_RESET, email)
