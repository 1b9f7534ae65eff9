"""Signing-key rotation: two keys live, the old one retired after the grace period."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import jwt
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import SigningKey
from services.identity.tokens.service import SigningKeyService
from shared.auth import JWKSVerifier
from shared.db import session_scope, utcnow
from tests.identity.factories import bearer, create_member, sign_in_body


async def kids(client: httpx.AsyncClient) -> list[str]:
    return [key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]]


class TestKeyRotation:
    async def test_rotation_keeps_both_keys_live_until_the_old_one_retires(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        verifier: JWKSVerifier,
    ) -> None:
        _, admin_email = await create_member(sessions, settings, "platform_admin")
        _, member_email = await create_member(sessions, settings, "resident")
        admin = await sign_in_body(client, admin_email)
        old_token = (await sign_in_body(client, member_email))["access_token"]
        old_kid = jwt.get_unverified_header(old_token)["kid"]

        response = await client.post(
            "/signing-keys/rotation", headers=bearer(admin["access_token"])
        )

        assert response.status_code == 201, response.text
        rotation = response.json()
        new_kid = rotation["kid"]
        assert old_kid in rotation["retiring_kids"]
        assert set(await kids(client)) >= {new_kid, old_kid}
        new_token = (await sign_in_body(client, member_email))["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        # Tokens signed before the rotation still verify, as do new ones.
        await verifier.verify(old_token)
        await verifier.verify(new_token)

        # The grace period ends: the old key leaves the JWKS, the new one stays.
        async with session_scope(sessions) as session:
            await session.execute(
                update(SigningKey)
                .where(SigningKey.kid.in_(rotation["retiring_kids"]))
                .values(retire_at=utcnow() - timedelta(seconds=1))
            )
        published = await kids(client)
        assert new_kid in published
        assert not set(rotation["retiring_kids"]) & set(published)

    async def test_the_grace_period_comes_from_the_settings(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, admin_email = await create_member(sessions, settings, "platform_admin")
        admin = await sign_in_body(client, admin_email)
        before = utcnow()

        rotation = (
            await client.post("/signing-keys/rotation", headers=bearer(admin["access_token"]))
        ).json()

        retire_at = rotation["retire_at"]
        grace = timedelta(seconds=settings.signing_key_grace_s)
        assert before + grace <= datetime.fromisoformat(retire_at) <= utcnow() + grace


class TestPublishAhead:
    async def test_a_rotated_in_key_is_published_before_it_signs(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        keys = SigningKeyService(session, settings)
        signing_kid, _ = await keys.signing_key()

        plan = await keys.rotate(publish_ahead=timedelta(minutes=6), grace=timedelta(minutes=30))

        published = [key.kid for key in (await keys.public_keys()).keys]
        assert plan.kid in published and signing_kid in published
        # Until signs_from, the old key keeps signing.
        assert (await keys.signing_key())[0] == signing_kid
        assert plan.retire_at == plan.signs_from + timedelta(minutes=30)
        await session.execute(
            update(SigningKey)
            .where(SigningKey.kid == plan.kid)
            .values(signs_from=utcnow() - timedelta(seconds=1))
        )
        assert (await keys.signing_key())[0] == plan.kid
