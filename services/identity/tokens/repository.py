"""Every SQL statement about signing keys."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import SigningKey

# One number for "someone is creating identity's first signing key".
_KEY_CREATION_LOCK = zlib.crc32(b"tawny-identity:signing-keys")


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_key_creation(self) -> None:
        """Held until the transaction ends, so replicas starting together create one key."""
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_CREATION_LOCK}
        )

    async def active(self) -> Sequence[SigningKey]:
        """Active keys, newest first: the first one signs."""
        return (
            await self._session.scalars(
                select(SigningKey)
                .where(SigningKey.active.is_(True))
                .order_by(SigningKey.created_at.desc(), SigningKey.kid)
            )
        ).all()

    async def newest_active(self) -> SigningKey | None:
        return await self._session.scalar(
            select(SigningKey)
            .where(SigningKey.active.is_(True))
            .order_by(SigningKey.created_at.desc(), SigningKey.kid)
            .limit(1)
        )

    async def add(self, *, kid: str, private_key_pem: str) -> SigningKey:
        key = SigningKey(kid=kid, private_key_pem=private_key_pem, active=True)
        self._session.add(key)
        await self._session.flush()
        return key
