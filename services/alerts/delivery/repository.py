"""SQL about dispatch's delivery counts per message and channel. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import DeliveryStats
from shared.events import DeliveryCounts


class DeliveryStatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep_latest(
        self, alert_id: uuid.UUID, as_of: datetime, channels: dict[str, DeliveryCounts]
    ) -> None:
        """Store each channel's totals unless a report at least as recent is stored already:
        reports may arrive late or twice, and totals as of a later time always win."""
        if not channels:
            return
        statement = insert(DeliveryStats).values(
            [
                {
                    "alert_id": alert_id,
                    "channel": channel,
                    "as_of": as_of,
                    "recipients": counts.recipients,
                    "sent": counts.sent,
                    "delivered": counts.delivered,
                    "failed": counts.failed,
                }
                for channel, counts in channels.items()
            ]
        )
        excluded = statement.excluded
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[DeliveryStats.alert_id, DeliveryStats.channel],
                set_={
                    "as_of": excluded.as_of,
                    "recipients": excluded.recipients,
                    "sent": excluded.sent,
                    "delivered": excluded.delivered,
                    "failed": excluded.failed,
                },
                where=DeliveryStats.as_of < excluded.as_of,
            )
        )

    async def for_messages(self, message_ids: Sequence[uuid.UUID]) -> Sequence[DeliveryStats]:
        if not message_ids:
            return []
        return (
            await self._session.scalars(
                select(DeliveryStats)
                .where(DeliveryStats.alert_id.in_(message_ids))
                .order_by(DeliveryStats.alert_id, DeliveryStats.channel)
            )
        ).all()
