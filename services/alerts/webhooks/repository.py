"""SQL about partners' webhooks and their deliveries. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import (
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
)
from shared.pagination import Cursor, before


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, webhook: Webhook) -> Webhook:
        self._session.add(webhook)
        await self._session.flush()
        return webhook

    async def get(self, webhook_id: uuid.UUID) -> Webhook | None:
        return await self._session.get(Webhook, webhook_id)

    async def of_client(self, client_id: uuid.UUID) -> Sequence[Webhook]:
        return (
            await self._session.scalars(
                select(Webhook)
                .where(Webhook.client_id == client_id)
                .order_by(Webhook.created_at, Webhook.id)
            )
        ).all()

    async def listening(self, client_id: uuid.UUID, event: WebhookEvent) -> Sequence[Webhook]:
        return (
            await self._session.scalars(
                select(Webhook).where(
                    Webhook.client_id == client_id,
                    Webhook.active.is_(True),
                    Webhook.events.contains([event.value]),
                )
            )
        ).all()

    async def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None:
        self._session.add_all(deliveries)
        await self._session.flush()

    async def refresh_waiting_totals(
        self, webhook_id: uuid.UUID, alert_id: uuid.UUID, payload: dict[str, Any]
    ) -> bool:
        """Replace the payload of a delivery-totals callback not yet attempted (totals change
        every few seconds: the partner needs the latest, not each); False when none waits."""
        result = await self._session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.alert_id == alert_id,
                WebhookDelivery.event == WebhookEvent.DELIVERY_TOTALS,
                WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                WebhookDelivery.attempts == 0,
            )
            .values(payload=payload)
            .returning(WebhookDelivery.id)
        )
        return result.first() is not None

    async def deliveries(
        self, webhook_id: uuid.UUID, *, limit: int, cursor: Cursor | None
    ) -> Sequence[WebhookDelivery]:
        """Newest first, after ``cursor`` when given."""
        query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        if cursor is not None:
            query = query.where(before(WebhookDelivery.created_at, WebhookDelivery.id, cursor))
        return (
            await self._session.scalars(
                query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
                    limit
                )
            )
        ).all()

    async def claim_due(
        self, now: datetime, *, limit: int, lease: timedelta
    ) -> Sequence[tuple[WebhookDelivery, Webhook]]:
        """Due pending deliveries with their webhooks, leased: each attempt is counted now and
        the next one is due after ``lease``, so a replica that dies mid-send leaves it to be
        retried, and ``SKIP LOCKED`` keeps replicas from taking the same rows."""
        due = (
            await self._session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not due:
            return []
        webhooks = {
            w.id: w
            for w in await self._session.scalars(
                select(Webhook).where(Webhook.id.in_({d.webhook_id for d in due}))
            )
        }
        for delivery in due:
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.next_attempt_at = now + lease
        await self._session.flush()
        return [(d, webhooks[d.webhook_id]) for d in due]

    async def get_deliveries(self, ids: Sequence[uuid.UUID]) -> Sequence[WebhookDelivery]:
        return (
            await self._session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).with_for_update()
            )
        ).all()
