"""Every SQL statement about identity reveals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import IdentityReveal, Member


class RevealRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, reveal: IdentityReveal) -> IdentityReveal:
        self._session.add(reveal)
        await self._session.flush()
        return reveal

    async def get_for_update(self, reveal_id: uuid.UUID) -> IdentityReveal | None:
        return await self._session.scalar(
            select(IdentityReveal).where(IdentityReveal.id == reveal_id).with_for_update()
        )

    async def with_status(self, status: str, limit: int) -> Sequence[tuple[IdentityReveal, str]]:
        rows = await self._session.execute(
            select(IdentityReveal, Member.pseudonym)
            .join(Member, Member.id == IdentityReveal.member_id)
            .where(IdentityReveal.status == status)
            .order_by(IdentityReveal.requested_at)
            .limit(limit)
        )
        return [(reveal, pseudonym) for reveal, pseudonym in rows]
