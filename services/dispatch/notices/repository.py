"""Every SQL statement about account notices. Flushes, never commits: the consumer owns the
transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import SentNotice

KIND_MAX_LENGTH = 64


class NoticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_sent(self, *, notice_id: uuid.UUID, member_id: uuid.UUID, kind: str) -> bool:
        """Record the notice as sent; False if it already was. The row is written before the
        email goes out and kept only if the transaction commits (after the server accepted it),
        so a second delivery of the notice, under any event id, sends nothing."""
        statement = (
            insert(SentNotice)
            .values(notice_id=notice_id, member_id=member_id, kind=kind[:KIND_MAX_LENGTH])
            .on_conflict_do_nothing(index_elements=[SentNotice.notice_id])
            .returning(SentNotice.notice_id)
        )
        return await self._session.scalar(statement) is not None

    async def delete_for_member(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(
            delete(SentNotice).where(SentNotice.member_id == member_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
