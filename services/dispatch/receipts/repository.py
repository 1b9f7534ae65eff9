"""Every SQL statement receipts need about deliveries. Flushes, never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import utcnow


@dataclass(frozen=True)
class ReceiptTarget:
    delivery_id: uuid.UUID
    member_id: uuid.UUID
    channel: ChannelKind


class ReceiptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @staticmethod
    def _matching(provider_reference: str, delivery_id: uuid.UUID | None) -> ColumnElement[bool]:
        """The delivery a receipt is about: by the provider's id once recorded, or by our own
        id (the reference sent with it) while its worker has yet to record the acceptance."""
        by_provider = Delivery.provider_reference == provider_reference
        if delivery_id is None:
            return by_provider
        return or_(
            by_provider, and_(Delivery.id == delivery_id, Delivery.provider_reference.is_(None))
        )

    async def mark_delivered(
        self, *, provider_reference: str, delivery_id: uuid.UUID | None, at: datetime
    ) -> ReceiptTarget | None:
        """The delivery arrived; None if there is none to mark (not ours, or settled by an
        earlier receipt). A row still ``sending`` gets its time too: the worker's record of
        the acceptance leaves ``delivered_at`` alone."""
        row = (
            await self._session.execute(
                update(Delivery)
                .where(
                    self._matching(provider_reference, delivery_id),
                    Delivery.status.in_((DeliveryStatus.SENDING, DeliveryStatus.SENT)),
                    Delivery.delivered_at.is_(None),
                )
                .values(delivered_at=at, updated_at=utcnow())
                .returning(Delivery.id, Delivery.member_id, Delivery.channel)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return ReceiptTarget(*row) if row is not None else None

    async def mark_failed(
        self, *, provider_reference: str, delivery_id: uuid.UUID | None, error: str
    ) -> ReceiptTarget | None:
        """The provider could not deliver it after all: ``failed`` (it keeps its ``sent_at``)."""
        row = (
            await self._session.execute(
                update(Delivery)
                .where(
                    self._matching(provider_reference, delivery_id),
                    Delivery.status == DeliveryStatus.SENT,
                    Delivery.delivered_at.is_(None),
                )
                .values(status=DeliveryStatus.FAILED, last_error=error, updated_at=utcnow())
                .returning(Delivery.id, Delivery.member_id, Delivery.channel)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return ReceiptTarget(*row) if row is not None else None

    async def is_sending(self, delivery_id: uuid.UUID) -> bool:
        """Whether the delivery is still being handed over (its acceptance not yet recorded)."""
        status = await self._session.scalar(
            select(Delivery.status).where(Delivery.id == delivery_id)
        )
        return status is DeliveryStatus.SENDING
