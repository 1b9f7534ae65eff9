"""Export and erasure of a member's data."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity import maintenance
from services.identity.config import IdentitySettings
from services.identity.models import Member, RefreshToken
from shared.db import session_scope, utcnow
from shared.events import (
    AddressLetterRequested,
    MemberEmailVerified,
    MemberErased,
    MemberExportRequested,
)
from tests.identity.factories import (
    PASSWORD,
    bearer,
    create_member,
    email_index,
    register,
    sign_in_body,
    signed_in_member,
    staged_for_member,
    unique_email,
)


class TestExport:
    async def test_the_member_gets_everything_identity_holds(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, email = await create_member(sessions, settings, "resident")
        token = (await sign_in_body(client, email))["access_token"]

        response = await client.get("/members/me/export", headers=bearer(token))

        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        export = response.json()
        assert export["member"]["id"] == str(member_id)
        assert export["member"]["email"] == email
        assert len(export["sessions"]) == 1
        [event] = await staged_for_member(sessions, MemberExportRequested.event_type, member_id)
        assert event["export_id"] == export["export_id"]


class TestErasure:
    async def test_a_member_erases_themselves_with_their_password(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, email = await create_member(sessions, settings, "resident")
        tokens = await sign_in_body(client, email)
        headers = bearer(tokens["access_token"])

        wrong = await client.post(
            "/members/me/erasure", json={"password": "not my password"}, headers=headers
        )
        assert wrong.status_code == 401
        response = await client.post(
            "/members/me/erasure", json={"password": PASSWORD}, headers=headers
        )

        assert response.status_code == 204
        async with sessions() as session:
            assert await session.get(Member, member_id) is None
            remaining = await session.scalar(
                select(func.count())
                .select_from(RefreshToken)
                .where(RefreshToken.member_id == member_id)
            )
        assert remaining == 0
        assert await staged_for_member(sessions, MemberErased.event_type, member_id) == [
            {"member_id": str(member_id), "keep_reply_text": False}
        ]
        sign_in = await client.post("/tokens", json={"email": email, "password": PASSWORD})
        assert sign_in.status_code == 401
        assert (await client.get("/members/me", headers=headers)).status_code == 404

    async def test_the_member_may_leave_their_replies_text_for_the_police(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, email = await create_member(sessions, settings, "resident")
        tokens = await sign_in_body(client, email)

        response = await client.post(
            "/members/me/erasure",
            json={"password": PASSWORD, "keep_reply_text": True},
            headers=bearer(tokens["access_token"]),
        )

        assert response.status_code == 204, response.text
        assert await staged_for_member(sessions, MemberErased.event_type, member_id) == [
            {"member_id": str(member_id), "keep_reply_text": True}
        ]

    async def test_a_platform_admin_erases_a_member_with_a_reason(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, admin_email = await create_member(sessions, settings, "platform_admin")
        admin = bearer((await sign_in_body(client, admin_email))["access_token"])
        member_id, _ = await create_member(sessions, settings, "resident")

        response = await client.post(
            f"/members/{member_id}/erasure", json={"reason": "Request by letter"}, headers=admin
        )

        assert response.status_code == 204
        again = await client.post(
            f"/members/{member_id}/erasure", json={"reason": "Request by letter"}, headers=admin
        )
        assert again.status_code == 404
        unknown = await client.post(
            f"/members/{uuid.uuid4()}/erasure", json={"reason": "x" * 501}, headers=admin
        )
        assert unknown.status_code == 422


class TestPersonalDataInTheExport:
    async def test_name_phone_address_and_verifications_are_exported(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)
        await client.put(
            "/members/me/personal-details", json={"phone": "020 7946 0000"}, headers=headers
        )
        await client.post(
            "/members/me/address/letter",
            json={"name": "Sam Taylor", "address_lines": ["10 Mansell St"], "postcode": "E1 8AA"},
            headers=headers,
        )
        [letter] = await staged_for_member(sessions, AddressLetterRequested.event_type, member_id)
        await client.post(
            "/members/me/address/confirmation", json={"code": letter["code"]}, headers=headers
        )

        export = (await client.get("/members/me/export", headers=headers)).json()

        assert export["member"]["name"] == "Sam Taylor"
        assert export["member"]["phone"] == "020 7946 0000"
        assert export["member"]["address"] == {
            "address_lines": ["10 Mansell St"],
            "postcode": "E1 8AA",
        }
        assert export["member"]["home_ward_code"] == "E05009317"
        assert [(v["method"], v["status"]) for v in export["address_verifications"]] == [
            ("letter", "verified")
        ]
        assert export["coordinator_applications"] == []


class TestErasureOfStagedEvents:
    async def test_the_members_events_with_personal_data_leave_the_outbox(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)
        await client.post(
            "/members/me/address/letter",
            json={"name": "Sam Taylor", "address_lines": ["10 Mansell St"], "postcode": "E1 8AA"},
            headers=headers,
        )
        assert await staged_for_member(sessions, AddressLetterRequested.event_type, member_id)

        await client.post("/members/me/erasure", json={"password": PASSWORD}, headers=headers)

        assert not await staged_for_member(sessions, AddressLetterRequested.event_type, member_id)
        assert not await staged_for_member(sessions, MemberEmailVerified.event_type, member_id)
        assert await staged_for_member(sessions, MemberErased.event_type, member_id)


class TestUnverifiedPurge:
    async def test_accounts_never_verified_are_erased_after_the_configured_time(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        stale_email, fresh_email = unique_email("stale"), unique_email("fresh")
        await register(client, stale_email)
        await register(client, fresh_email)
        async with session_scope(sessions) as session:
            stale = await session.scalar(
                select(Member).where(Member.email_index == email_index(stale_email))
            )
            fresh = await session.scalar(
                select(Member).where(Member.email_index == email_index(fresh_email))
            )
            assert stale is not None and fresh is not None
            stale.created_at = utcnow() - timedelta(hours=settings.unverified_purge_after_h + 1)

        _, purged = await maintenance.run_once(app.state.runtime, settings)

        assert purged >= 1
        async with sessions() as session:
            assert await session.get(Member, stale.id) is None
            assert await session.get(Member, fresh.id) is not None
        assert await staged_for_member(sessions, MemberErased.event_type, stale.id)
        assert not await staged_for_member(sessions, MemberErased.event_type, fresh.id)
