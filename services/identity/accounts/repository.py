"""Every SQL statement about password resets."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import PasswordReset


class PasswordResetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, *, member_id: uuid.UUID, token_hash: str, expires_at: datetime) -> None:
        self._session.add(
            PasswordReset(member_id=member_id, token_hash=token_hash, expires_at=expires_at)
        )
        await self._session.flush()

    async def get_for_update(self, token_hash: str) -> PasswordReset | None:
        return await self._session.scalar(
            select(PasswordReset).where(PasswordReset.token_hash == token_hash).with_for_update()
        )

    async def spend_all(self, member_id: uuid.UUID, at: datetime) -> None:
        """Every outstanding link of the member dies with the first one used."""
        await self._session.execute(
            update(PasswordReset)
            .where(PasswordReset.member_id == member_id, PasswordReset.used_at.is_(None))
            .values(used_at=at)
        )
