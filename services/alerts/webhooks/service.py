"""Partners' webhooks: registering them, recording a callback whenever one of their alerts
moves (in the same transaction as the move, so none is lost or written twice), and the
outcome of each attempt to send one. Flushes, never commits."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.config import AlertsSettings
from services.alerts.errors import AlertForbiddenError, AlertInvalidError, WebhookNotFoundError
from services.alerts.models import (
    Alert,
    AlertState,
    AuditAction,
    DeliveryStats,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
)
from services.alerts.webhooks.repository import WebhookRepository
from services.alerts.webhooks.schemas import WebhookCreate
from shared.auth import Principal
from shared.db import utcnow
from shared.logs import get_logger
from shared.pagination import Cursor

log = get_logger(__name__)

WEBHOOK_SCOPES = ("cap:write", "alerts:write")
MAX_WEBHOOKS_PER_CLIENT = 5
# Which audited moves of an alert a partner hears about. An approval is reported once the
# alert is approved (every borough signed), not for each officer's signature.
EVENTS_BY_ACTION: Mapping[AuditAction, WebhookEvent] = {
    AuditAction.APPROVED: WebhookEvent.APPROVED,
    AuditAction.PUBLISHED: WebhookEvent.PUBLISHED,
    AuditAction.UPDATED: WebhookEvent.UPDATED,
    AuditAction.RESOLVED: WebhookEvent.UPDATED,
    AuditAction.CANCELLED: WebhookEvent.CANCELLED,
}


class WebhookService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._webhooks = WebhookRepository(session)
        self._settings = settings

    # --- a partner's own webhooks ---------------------------------------------------------

    async def register(self, client: Principal, data: WebhookCreate) -> Webhook:
        _require_client(client)
        if urlsplit(data.url).scheme != "https" and not self._settings.webhooks_may_use_http:
            raise AlertInvalidError("A webhook URL must be https.", field="url")
        if len(await self._webhooks.of_client(client.member_id)) >= MAX_WEBHOOKS_PER_CLIENT:
            raise AlertInvalidError(
                f"A client may register at most {MAX_WEBHOOKS_PER_CLIENT} webhooks; delete one."
            )
        webhook = await self._webhooks.add(
            Webhook(
                client_id=client.member_id,
                url=data.url,
                secret=data.secret.get_secret_value(),
                events=[e.value for e in dict.fromkeys(data.events)],
                active=True,
            )
        )
        log.info(
            "alerts.webhook.registered", webhook_id=str(webhook.id), client_id=str(client.member_id)
        )
        return webhook

    async def of_client(self, client: Principal) -> Sequence[Webhook]:
        _require_client(client)
        return await self._webhooks.of_client(client.member_id)

    async def own(self, client: Principal, webhook_id: uuid.UUID) -> Webhook:
        _require_client(client)
        webhook = await self._webhooks.get(webhook_id)
        if webhook is None or webhook.client_id != client.member_id:
            raise WebhookNotFoundError("You have no webhook with this id.")
        return webhook

    async def deactivate(self, client: Principal, webhook_id: uuid.UUID) -> Webhook:
        """Stops new callbacks; the delivery log stays readable."""
        webhook = await self.own(client, webhook_id)
        webhook.active = False
        log.info("alerts.webhook.deactivated", webhook_id=str(webhook.id))
        return webhook

    async def deliveries(
        self, client: Principal, webhook_id: uuid.UUID, *, limit: int, cursor: Cursor | None
    ) -> Sequence[WebhookDelivery]:
        webhook = await self.own(client, webhook_id)
        return await self._webhooks.deliveries(webhook.id, limit=limit, cursor=cursor)

    # --- sending --------------------------------------------------------------------------

    async def claim_due(self, now: datetime) -> Sequence[tuple[WebhookDelivery, Webhook]]:
        return await self._webhooks.claim_due(
            now,
            limit=self._settings.webhook_batch_size,
            lease=timedelta(seconds=self._settings.webhook_timeout_s * 3),
        )

    async def record_outcomes(self, outcomes: Mapping[uuid.UUID, Attempt], now: datetime) -> None:
        """Each attempt's result: delivered, retried after a growing pause, or failed."""
        for delivery in await self._webhooks.get_deliveries(list(outcomes)):
            attempt = outcomes[delivery.id]
            delivery.last_status_code = attempt.status_code
            delivery.last_error = attempt.error[:500] if attempt.error else None
            if attempt.delivered:
                delivery.status = WebhookDeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
            elif delivery.attempts >= self._settings.webhook_max_attempts:
                delivery.status = WebhookDeliveryStatus.FAILED
                delivery.next_attempt_at = None
                log.warning("alerts.webhook.delivery_failed", delivery_id=str(delivery.id))
            else:
                delivery.next_attempt_at = now + self.backoff(delivery.attempts)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential with full jitter, capped: many partners failing at once do not come
        back in step."""
        ceiling = min(
            self._settings.webhook_backoff_max_s,
            self._settings.webhook_backoff_base_s * 2 ** (attempts - 1),
        )
        return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


class CallbackRecorder:
    """Records callbacks in the caller's transaction, whenever a partner's alert moves."""

    def __init__(self, session: AsyncSession) -> None:
        self._webhooks = WebhookRepository(session)

    async def alert_moved(
        self, original: Alert, action: AuditAction, *, message_id: uuid.UUID | None = None
    ) -> None:
        """Record a callback to each webhook of the alert's author that wants this move;
        ``message_id`` is the CAP message it sent (an Update's or Cancel's own id)."""
        event = EVENTS_BY_ACTION.get(action)
        if event is None or (
            action is AuditAction.APPROVED and original.state is not AlertState.APPROVED
        ):
            return
        webhooks = await self._webhooks.listening(original.author_id, event)
        if not webhooks:
            return
        now = utcnow()
        payload = {
            "event": event.value,
            "occurred_at": now.isoformat(),
            "alert": _describe(original),
            "message_id": str(message_id or original.id),
        }
        await self._webhooks.add_deliveries(
            [_delivery(w, event, original.id, payload, now) for w in webhooks]
        )

    async def delivery_totals(
        self, original: Alert, message: Alert, stats: Sequence[DeliveryStats]
    ) -> None:
        """Record (or refresh, while unsent) a callback with a message's latest totals."""
        webhooks = await self._webhooks.listening(original.author_id, WebhookEvent.DELIVERY_TOTALS)
        if not webhooks:
            return
        now = utcnow()
        payload = {
            "event": WebhookEvent.DELIVERY_TOTALS.value,
            "occurred_at": now.isoformat(),
            "alert": _describe(original),
            "message_id": str(message.id),
            "as_of": max(s.as_of for s in stats).isoformat() if stats else None,
            "channels": {
                s.channel: {
                    "recipients": s.recipients,
                    "sent": s.sent,
                    "delivered": s.delivered,
                    "failed": s.failed,
                }
                for s in stats
            },
        }
        fresh = [
            _delivery(w, WebhookEvent.DELIVERY_TOTALS, original.id, payload, now)
            for w in webhooks
            if not await self._webhooks.refresh_waiting_totals(w.id, original.id, payload)
        ]
        await self._webhooks.add_deliveries(fresh)


class Attempt:
    """What one POST to a webhook came to."""

    __slots__ = ("delivered", "error", "status_code")

    def __init__(self, *, delivered: bool, status_code: int | None, error: str | None) -> None:
        self.delivered = delivered
        self.status_code = status_code
        self.error = error


def _require_client(client: Principal) -> None:
    if not client.scopes.intersection(WEBHOOK_SCOPES):
        raise AlertForbiddenError(
            "Webhooks are for API clients with the scope cap:write or alerts:write."
        )


def _describe(alert: Alert) -> dict[str, Any]:
    return {
        "id": str(alert.id),
        "identifier": alert.identifier,
        "sender": alert.sender,
        "msg_type": alert.msg_type.value,
        "state": alert.state.value,
        "crime_type": alert.crime_type.value,
        "headline": alert.headline,
        "published_at": alert.published_at.isoformat() if alert.published_at else None,
    }


def _delivery(
    webhook: Webhook,
    event: WebhookEvent,
    alert_id: uuid.UUID,
    payload: dict[str, Any],
    now: datetime,
) -> WebhookDelivery:
    delivery_id = uuid.uuid4()
    return WebhookDelivery(
        id=delivery_id,
        webhook_id=webhook.id,
        event=event,
        alert_id=alert_id,
        payload={"id": str(delivery_id), **payload},
        status=WebhookDeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
