"""Every SQL statement of the retention purge. Flushes, never commits: the purge owns its
transactions, one per chunk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import Reply, ReplyPhoto


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def delete_photos(self, *, uploaded_before: datetime, limit: int) -> int:
        """Up to ``limit`` photos uploaded before then. Rows another replica is deleting are
        skipped (``SKIP LOCKED``), not waited for."""
        chunk = (
            select(ReplyPhoto.reply_id)
            .where(ReplyPhoto.created_at < uploaded_before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._session.execute(
            delete(ReplyPhoto).where(ReplyPhoto.reply_id.in_(chunk))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete_replies(self, *, written_before: datetime, limit: int) -> int:
        """Up to ``limit`` replies written before then (their photos cascade)."""
        chunk = (
            select(Reply.id)
            .where(Reply.created_at < written_before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._session.execute(delete(Reply).where(Reply.id.in_(chunk)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
