"""Export and erasure of a member's data."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import Member, RefreshToken
from shared.events import MemberErased, MemberExportRequested
from tests.identity.factories import (
    PASSWORD,
    bearer,
    create_member,
    sign_in_body,
    staged_for_member,
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
            {"member_id": str(member_id)}
        ]
        sign_in = await client.post("/tokens", json={"email": email, "password": PASSWORD})
        assert sign_in.status_code == 401
        assert (await client.get("/members/me", headers=headers)).status_code == 404

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
