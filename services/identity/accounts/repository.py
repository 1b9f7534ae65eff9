"""Every SQL statement about password resets and two-factor recovery codes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import PasswordReset, RecoveryCode
from shared.db import utcnow


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


class RecoveryCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace(self, member_id: uuid.UUID, code_hashes: list[str]) -> None:
        await self._session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.member_id == member_id, RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow())
        )
        self._session.add_all(
            RecoveryCode(member_id=member_id, code_hash=code_hash) for code_hash in code_hashes
        )
        await self._session.flush()

    async def spend(self, member_id: uuid.UUID, code_hash: str) -> bool:
        spent = await self._session.scalar(
            update(RecoveryCode)
            .where(
                RecoveryCode.id
                == select(RecoveryCode.id)
                .where(
                    RecoveryCode.member_id == member_id,
                    RecoveryCode.code_hash == code_hash,
                    RecoveryCode.used_at.is_(None),
                )
                .limit(1)
                .scalar_subquery()
            )
            .values(used_at=utcnow())
            .returning(RecoveryCode.id)
        )
        return spent is not None
