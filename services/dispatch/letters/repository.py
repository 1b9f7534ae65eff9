"""Every SQL statement about letters. Flushes, never commits: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import Letter, LetterStatus


class LetterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, letter_id: uuid.UUID) -> Letter | None:
        return await self._session.get(Letter, letter_id)

    async def record(
        self,
        *,
        letter_id: uuid.UUID,
        member_id: uuid.UUID,
        status: LetterStatus,
        provider_reference: str | None = None,
        last_error: str | None = None,
        sent_at: datetime | None = None,
    ) -> bool:
        """Insert the letter's row; False (changing nothing) if it was recorded already."""
        statement = (
            insert(Letter)
            .values(
                letter_id=letter_id,
                member_id=member_id,
                status=status,
                provider_reference=provider_reference,
                last_error=last_error,
                sent_at=sent_at,
            )
            .on_conflict_do_nothing(index_elements=[Letter.letter_id])
            .returning(Letter.letter_id)
        )
        return await self._session.scalar(statement) is not None

    async def record_receipt(
        self, *, provider_reference: str, status: LetterStatus, at: datetime, error: str | None
    ) -> bool:
        """A receipt for the letter the provider knows by ``provider_reference``; False if no
        letter has it. A letter already delivered or failed keeps its state."""
        result = await self._session.execute(
            update(Letter)
            .where(
                Letter.provider_reference == provider_reference,
                Letter.status == LetterStatus.SENT,
            )
            .values(
                status=status,
                delivered_at=at if status is LetterStatus.DELIVERED else None,
                last_error=error,
                updated_at=func.now(),
            )
            .returning(Letter.letter_id)
            .execution_options(synchronize_session=False)
        )
        if result.first() is not None:
            return True
        known = await self._session.scalar(
            select(Letter.letter_id).where(Letter.provider_reference == provider_reference)
        )
        return known is not None

    async def delete_for_member(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(delete(Letter).where(Letter.member_id == member_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
