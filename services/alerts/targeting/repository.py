"""SQL about geo's targeting reports on alert messages. Flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import Alert


class TargetingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep_latest(
        self,
        alert_id: uuid.UUID,
        *,
        reported_at: datetime,
        recipients: int,
        failures: list[dict[str, str]],
    ) -> bool:
        """Store the report unless one at least as recent is stored already (reports may
        arrive late or twice). False when the message is unknown or the report older."""
        result = await self._session.execute(
            update(Alert)
            .where(
                Alert.id == alert_id,
                or_(
                    Alert.targeting_reported_at.is_(None),
                    Alert.targeting_reported_at < reported_at,
                ),
            )
            .values(
                targeting_reported_at=reported_at,
                targeting_recipients=recipients,
                targeting_failures=failures,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
