"""Every SQL statement about deliveries. Flushes, never commits: the caller owns the
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import utcnow


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one delivery, as the row will record it."""

    delivery_id: uuid.UUID
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_new(
        self, *, alert_id: uuid.UUID, targets: Sequence[tuple[uuid.UUID, ChannelKind]]
    ) -> Sequence[Row[uuid.UUID, uuid.UUID, ChannelKind]]:
        """Insert a ``sending`` row per (member, channel) and return only those that did not
        exist yet: the unique constraint turns a redelivered batch into no new rows.

        A concurrent transaction inserting the same rows makes this wait until it ends, so two
        dispatchers handling the same batch never both get a row back."""
        if not targets:
            return []
        statement = (
            insert(Delivery)
            .values(
                [
                    {
                        "id": uuid.uuid4(),
                        "alert_id": alert_id,
                        "member_id": member_id,
                        "channel": channel,
                        "status": DeliveryStatus.SENDING,
                        "attempts": 0,
                    }
                    for member_id, channel in targets
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[Delivery.alert_id, Delivery.member_id, Delivery.channel]
            )
            .returning(Delivery.id, Delivery.member_id, Delivery.channel)
        )
        return (await self._session.execute(statement)).all()

    async def record_results(self, results: Sequence[DeliveryResult]) -> None:
        if not results:
            return
        now = utcnow()
        await self._session.execute(
            update(Delivery),
            [
                {
                    "id": result.delivery_id,
                    "status": result.status,
                    "attempts": result.attempts,
                    "last_error": result.last_error,
                    "sent_at": result.sent_at,
                    "updated_at": now,
                }
                for result in results
            ],
        )

    async def count_by_channel_and_status(
        self, alert_id: uuid.UUID
    ) -> Sequence[Row[ChannelKind, DeliveryStatus, int]]:
        result = await self._session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.alert_id == alert_id)
            .group_by(Delivery.channel, Delivery.status)
        )
        return result.all()
