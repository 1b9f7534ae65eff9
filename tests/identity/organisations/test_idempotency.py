"""Idempotency-Key in identity (shared/idempotency.py): a retried registration returns the first
answer; where the answer carries a secret shown once, the header is refused, not honoured."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from tests.identity.factories import create_organisation, signed_in_member
from tests.identity.organisations.test_organisations import platform_admin, scheme
from tests.identity.verification.test_identity_checks import JPEG


class TestIdempotencyKey:
    async def test_a_retried_registration_is_answered_as_the_first(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        headers = {
            **await platform_admin(client, sessions, settings),
            "Idempotency-Key": str(uuid.uuid4()),
        }
        body = scheme()

        first = await client.post("/organisations", json=body, headers=headers)
        retry = await client.post("/organisations", json=body, headers=headers)

        assert first.status_code == 201, first.text
        # Without the key the same body is a 409 (the code is taken): the retry is not.
        assert (retry.status_code, retry.json()) == (201, first.json())
        assert retry.headers["idempotent-replayed"] == "true"

    async def test_an_answer_with_a_secret_refuses_the_header(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        headers = {
            **await platform_admin(client, sessions, settings),
            "Idempotency-Key": str(uuid.uuid4()),
        }
        command = await create_organisation(sessions, ward_codes=("E05009288",))

        response = await client.post(
            "/api-clients",
            json={"name": "CAD", "organisation_id": str(command), "scopes": ["cap:write"]},
            headers=headers,
        )

        assert response.status_code == 400, response.text
        assert response.json()["type"].endswith("/idempotency-key-unsupported")

    async def test_a_retried_file_upload_is_answered_as_the_first(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        """A multipart body is parsed before the key is checked, so the form is fingerprinted:
        the same file again replays the first answer, another file is a reused key."""
        _member_id, member = await signed_in_member(client, sessions, settings)
        headers = {**member, "Idempotency-Key": str(uuid.uuid4())}
        passport = {"file": ("passport.jpg", JPEG, "image/jpeg")}

        first = await client.post("/members/me/identity-documents", files=passport, headers=headers)
        retry = await client.post("/members/me/identity-documents", files=passport, headers=headers)
        other = await client.post(
            "/members/me/identity-documents",
            files={"file": ("licence.jpg", JPEG + b"\x01", "image/jpeg")},
            headers=headers,
        )

        assert first.status_code == 201, first.text
        assert (retry.status_code, retry.json()) == (201, first.json())
        assert retry.headers["idempotent-replayed"] == "true"
        assert other.status_code == 422, other.text
