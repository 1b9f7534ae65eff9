from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import SigningKey
from services.identity.tokens.service import SigningKeyService, key_thumbprint
from shared.db import build_engine, build_sessionmaker, session_scope
from tests.support.infrastructure import Infrastructure


@pytest.fixture(scope="module")
def keyless_database_url(infrastructure: Infrastructure) -> str:
    """A database of its own: these tests need a signing_keys table nobody has filled yet."""
    return infrastructure.fresh_database("identity")


@pytest.fixture
async def keyless_sessions(
    keyless_database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = build_engine(keyless_database_url, application_name="identity-tests", pool_size=2)
    yield build_sessionmaker(engine)
    await engine.dispose()


class TestJwks:
    async def test_serves_the_public_ed25519_keys_with_a_short_cache(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/.well-known/jwks.json")

        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        # Other tests rotate keys: every published key must be well formed.
        keys = response.json()["keys"]
        assert keys
        for key in keys:
            self.assert_well_formed(key)

    @staticmethod
    def assert_well_formed(key: dict[str, str]) -> None:
        assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
        assert (key["kty"], key["crv"], key["use"], key["alg"]) == (
            "OKP",
            "Ed25519",
            "sig",
            "EdDSA",
        )
        assert key["kid"] == key_thumbprint(key["x"])
        assert jwt.PyJWK.from_dict(key).algorithm_name == "EdDSA"


class TestSigningKeys:
    async def test_replicas_starting_together_create_one_key(
        self, keyless_sessions: async_sessionmaker[AsyncSession], settings: IdentitySettings
    ) -> None:
        async def start_replica() -> str:
            async with session_scope(keyless_sessions) as session:
                return await SigningKeyService(session, settings).ensure_active_key()

        kids = await asyncio.gather(*(start_replica() for _ in range(3)))

        async with keyless_sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(SigningKey))
        assert stored == 1
        assert len(set(kids)) == 1

    async def test_a_restart_keeps_the_existing_key(
        self, keyless_sessions: async_sessionmaker[AsyncSession], settings: IdentitySettings
    ) -> None:
        async with session_scope(keyless_sessions) as session:
            first = await SigningKeyService(session, settings).ensure_active_key()
        async with session_scope(keyless_sessions) as session:
            second = await SigningKeyService(session, settings).ensure_active_key()

        assert first == second
