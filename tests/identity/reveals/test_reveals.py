"""Two-person identity reveals: an officer asks with a reason, a different staff member
approves, and only then may the requester read the identity, once; every step is audited."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import IdentityReveal, Member
from shared.db import session_scope, utcnow
from tests.identity.factories import (
    audit_actions,
    create_member,
    sign_in_body,
    signed_in_member,
)

REASON = "CAD 4821/23NOV: witness to a robbery, statement needed"


async def requested(
    client: httpx.AsyncClient, officer: dict[str, str], member_id: uuid.UUID
) -> str:
    response = await client.post(
        "/identity-reveals",
        json={"member_id": str(member_id), "reason": REASON},
        headers=officer,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    reveal_id: str = response.json()["id"]
    return reveal_id


class TestIdentityReveal:
    async def test_two_people_then_one_reading_of_name_email_phone_and_address(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, email = await create_member(sessions, settings, "resident")
        member = {"Authorization": f"Bearer {(await sign_in_body(client, email))['access_token']}"}
        details = await client.put(
            "/members/me/personal-details",
            json={"name": "Sam Taylor", "phone": "+44 20 7946 0000"},
            headers=member,
        )
        assert details.status_code == 200, details.text
        _, officer = await signed_in_member(client, sessions, settings, "officer")
        _, approver = await signed_in_member(client, sessions, settings, "verifier")
        reveal_id = await requested(client, officer, member_id)

        early = await client.post(f"/identity-reveals/{reveal_id}/disclosure", headers=officer)
        self_approval = await client.post(
            f"/identity-reveals/{reveal_id}/approval", headers=officer
        )
        pending = (await client.get("/identity-reveals", headers=approver)).json()
        [listed] = [reveal for reveal in pending if reveal["id"] == reveal_id]
        assert listed["reason"] == REASON and listed["pseudonym"]
        approved = await client.post(f"/identity-reveals/{reveal_id}/approval", headers=approver)
        disclosed = await client.post(f"/identity-reveals/{reveal_id}/disclosure", headers=officer)
        again = await client.post(f"/identity-reveals/{reveal_id}/disclosure", headers=officer)

        assert early.status_code == 409
        assert self_approval.status_code == 403
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        assert disclosed.status_code == 200, disclosed.text
        identity = disclosed.json()
        assert (identity["name"], identity["email"], identity["phone"]) == (
            "Sam Taylor",
            email,
            "+44 20 7946 0000",
        )
        assert identity["address"] is None
        assert disclosed.headers["cache-control"] == "no-store"
        assert again.status_code == 410
        assert await audit_actions(sessions, member_id) == [
            "identity_reveal.requested",
            "identity_reveal.approved",
            "identity_reveal.read",
        ]

    async def test_only_the_requester_reads_it(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, _ = await create_member(sessions, settings, "resident")
        _, officer = await signed_in_member(client, sessions, settings, "officer")
        _, colleague = await signed_in_member(client, sessions, settings, "officer")
        _, admin = await signed_in_member(client, sessions, settings, "platform_admin")
        reveal_id = await requested(client, officer, member_id)
        await client.post(f"/identity-reveals/{reveal_id}/approval", headers=admin)

        response = await client.post(f"/identity-reveals/{reveal_id}/disclosure", headers=colleague)

        assert response.status_code == 404

    async def test_an_approval_not_read_in_time_lapses(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, _ = await create_member(sessions, settings, "resident")
        _, officer = await signed_in_member(client, sessions, settings, "officer")
        _, colleague = await signed_in_member(client, sessions, settings, "officer")
        reveal_id = await requested(client, officer, member_id)
        await client.post(f"/identity-reveals/{reveal_id}/approval", headers=colleague)
        async with session_scope(sessions) as session:
            await session.execute(
                update(IdentityReveal)
                .where(IdentityReveal.id == uuid.UUID(reveal_id))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

        response = await client.post(f"/identity-reveals/{reveal_id}/disclosure", headers=officer)

        assert response.status_code == 410


class TestPersonalDetails:
    async def test_name_and_phone_are_encrypted_at_rest_and_can_be_cleared(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, member = await signed_in_member(client, sessions, settings)

        await client.put(
            "/members/me/personal-details",
            json={"name": "Sam Taylor", "phone": "020 7946 0000"},
            headers=member,
        )
        async with sessions() as session:
            row = await session.get(Member, member_id)
            assert row is not None and row.name_encrypted and row.phone_encrypted
            assert b"Taylor" not in row.name_encrypted and b"7946" not in row.phone_encrypted
        cleared = await client.put(
            "/members/me/personal-details", json={"name": "Sam Taylor"}, headers=member
        )
        bad = await client.put(
            "/members/me/personal-details", json={"phone": "call me maybe"}, headers=member
        )

        assert cleared.json() == {"name": "Sam Taylor", "phone": None}
        assert bad.status_code == 422
