"""Token-signing private keys are stored encrypted like every other secret, and the migration
that introduced this encrypts the keys already stored as plain PEM."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.infra import create_databases, database_url_for
from services.identity.config import IdentitySettings
from services.identity.crypto import SIGNING_KEY_PURPOSE, DataCipher
from services.identity.models import SigningKey
from services.identity.tokens.service import SigningKeyService
from shared import migrations
from shared.db import build_engine
from tests.support.infrastructure import Infrastructure

BEFORE_ENCRYPTION = "c3a41f0e9d27"
PEM_HEADER = b"-----BEGIN PRIVATE KEY-----"


def _pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        .decode()
    )


class TestStoredSigningKeys:
    async def test_no_plain_pem_is_stored_and_the_key_still_signs(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        keys = SigningKeyService(session, settings)
        plan_kid = (await keys.rotate(publish_ahead=_zero(), grace=_zero())).kid

        stored = await session.scalar(select(SigningKey).where(SigningKey.kid == plan_kid))

        assert stored is not None
        assert PEM_HEADER not in stored.private_key_encrypted
        assert DataCipher.key_id_of(stored.private_key_encrypted) == "dev"
        opened = DataCipher.from_settings(settings).decrypt(
            stored.private_key_encrypted, purpose=SIGNING_KEY_PURPOSE
        )
        assert opened.startswith(PEM_HEADER)
        assert (await keys.signing_key())[0] == plan_kid


class TestEncryptingMigration:
    def test_existing_plain_keys_are_encrypted_and_downgrade_opens_them(
        self, infrastructure: Infrastructure
    ) -> None:
        name = f"test_identity_keys_{uuid.uuid4().hex[:8]}"
        create_databases(infrastructure.server_url, [name])
        url = database_url_for(infrastructure.server_url, name)
        config = migrations.alembic_config("identity", url)
        command.upgrade(config, BEFORE_ENCRYPTION)
        pem = _pem()
        asyncio.run(
            _execute(
                url, "INSERT INTO signing_keys (kid, private_key_pem) VALUES ('old', :pem)", pem
            )
        )

        migrations.upgrade("identity", url)
        sealed = asyncio.run(
            _execute(url, "SELECT private_key_encrypted FROM signing_keys WHERE kid = 'old'")
        )
        command.downgrade(config, BEFORE_ENCRYPTION)
        restored = asyncio.run(
            _execute(url, "SELECT private_key_pem FROM signing_keys WHERE kid = 'old'")
        )

        cipher = DataCipher.from_settings(IdentitySettings(environment="test"))
        assert PEM_HEADER not in sealed
        assert cipher.decrypt(sealed, purpose=SIGNING_KEY_PURPOSE).decode() == pem
        assert restored == pem


async def _execute(url: str, statement: str, pem: str | None = None) -> Any:
    """Run one statement in its own transaction; the first column of its first row, if any."""
    engine = build_engine(url, application_name="identity-migration-test", pool_size=1)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), {"pem": pem})
            return result.scalar_one() if result.returns_rows else None
    finally:
        await engine.dispose()


def _zero() -> timedelta:
    return timedelta(0)
