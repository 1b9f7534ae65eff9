"""Every SQL statement of the purge. Flushes, never commits: the purge owns its transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import Delivery, DeliveryStatus, DispatchAlert

# A delivery in one of these may still be sent: its alert must stay.
UNFINISHED = (
    DeliveryStatus.PENDING,
    DeliveryStatus.CREATED,
    DeliveryStatus.SENDING,
    DeliveryStatus.HELD,
)


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def purge_alerts(self, *, created_before: datetime, limit: int) -> tuple[int, int]:
        """Delete up to ``limit`` alerts that came before ``created_before`` and have no
        unfinished delivery, with their deliveries. Locks them ``SKIP LOCKED`` so that two
        processes purging at once do not wait for each other. Returns (alerts, deliveries)."""
        unfinished = exists().where(
            Delivery.alert_id == DispatchAlert.alert_id, Delivery.status.in_(UNFINISHED)
        )
        old = (
            await self._session.scalars(
                select(DispatchAlert.alert_id)
                .where(DispatchAlert.created_at < created_before, ~unfinished)
                .order_by(DispatchAlert.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not old:
            return 0, 0
        deliveries = await self._session.execute(
            delete(Delivery).where(Delivery.alert_id.in_(old)).returning(Delivery.id)
        )
        alerts = await self._session.execute(
            delete(DispatchAlert)
            .where(DispatchAlert.alert_id.in_(old))
            .returning(DispatchAlert.alert_id)
        )
        return len(alerts.all()), len(deliveries.all())
