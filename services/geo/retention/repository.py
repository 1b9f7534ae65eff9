"""Every SQL statement of the retention purge. Flushes, never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import AlertRecipientSet


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def delete_recipient_sets(self, *, resolved_before: datetime, limit: int) -> int:
        """Up to ``limit`` recipient sets resolved before then. Rows another replica is
        deleting are skipped (``SKIP LOCKED``), not waited for."""
        chunk = (
            select(AlertRecipientSet.alert_id)
            .where(AlertRecipientSet.resolved_at < resolved_before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._session.execute(
            delete(AlertRecipientSet).where(AlertRecipientSet.alert_id.in_(chunk))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
