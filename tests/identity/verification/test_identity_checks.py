"""Identity checks: a verifier records a document check; an uploaded document is deleted once
the check is recorded; a pass raises the member to ``identity``."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import VerificationDocument
from shared.db import utcnow
from tests.identity.factories import audit_actions, signed_in_member

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 300


class TestIdentityChecks:
    async def test_a_pass_against_an_uploaded_document_deletes_it_and_raises_the_level(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, member = await signed_in_member(client, sessions, settings)
        verifier_id, verifier = await signed_in_member(client, sessions, settings, "verifier")
        uploaded = await client.post(
            "/members/me/identity-documents",
            files={"file": ("passport.jpg", JPEG, "image/jpeg")},
            headers=member,
        )
        assert uploaded.status_code == 201, uploaded.text
        document_id = uploaded.json()["document_id"]
        queue = (await client.get("/verification-queue", headers=verifier)).json()["items"]
        assert any(item["id"] == document_id for item in queue)

        response = await client.post(
            f"/members/{member_id}/identity-checks",
            json={
                "document_type": "passport",
                "outcome": "pass",
                "checked_on": utcnow().date().isoformat(),
                "document_id": document_id,
            },
            headers=verifier,
        )

        assert response.status_code == 201, response.text
        check = response.json()
        assert check["verifier_id"] == str(verifier_id)
        assert check["document_deleted"] is True
        assert check["verification_level"] == "identity"
        async with sessions() as session:
            assert await session.get(VerificationDocument, uuid.UUID(document_id)) is None
        me = (await client.get("/members/me", headers=member)).json()
        assert me["verification_level"] == "identity"
        assert await audit_actions(sessions, member_id) == ["identity_check.recorded"]
        export = (await client.get("/members/me/export", headers=member)).json()
        assert [c["outcome"] for c in export["identity_checks"]] == ["pass"]

    async def test_a_failed_check_keeps_the_level(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, _ = await signed_in_member(client, sessions, settings)
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")

        response = await client.post(
            f"/members/{member_id}/identity-checks",
            json={
                "document_type": "driving_licence",
                "outcome": "fail",
                "checked_on": utcnow().date().isoformat(),
            },
            headers=verifier,
        )

        assert response.status_code == 201
        assert response.json()["verification_level"] == "email"
        assert response.json()["document_deleted"] is False

    async def test_another_members_document_is_not_found(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, _ = await signed_in_member(client, sessions, settings)
        _, other = await signed_in_member(client, sessions, settings)
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        document_id = (
            await client.post(
                "/members/me/identity-documents",
                files={"file": ("id.jpg", JPEG, "image/jpeg")},
                headers=other,
            )
        ).json()["document_id"]

        response = await client.post(
            f"/members/{member_id}/identity-checks",
            json={
                "document_type": "passport",
                "outcome": "pass",
                "checked_on": utcnow().date().isoformat(),
                "document_id": document_id,
            },
            headers=verifier,
        )

        assert response.status_code == 404
        async with sessions() as session:
            assert await session.get(VerificationDocument, uuid.UUID(document_id)) is not None

    async def test_a_check_is_not_dated_in_the_future_nor_of_oneself(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, _ = await signed_in_member(client, sessions, settings)
        verifier_id, verifier = await signed_in_member(client, sessions, settings, "verifier")
        body = {"document_type": "passport", "outcome": "pass", "checked_on": "2999-01-01"}

        future = await client.post(
            f"/members/{member_id}/identity-checks", json=body, headers=verifier
        )
        own = await client.post(
            f"/members/{verifier_id}/identity-checks",
            json={**body, "checked_on": utcnow().date().isoformat()},
            headers=verifier,
        )

        assert (future.status_code, own.status_code) == (409, 409)
