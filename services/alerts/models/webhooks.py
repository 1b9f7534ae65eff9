"""Partners' webhooks and every callback to them, with its attempts (the delivery log)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.alerts.models.base import Base, text_enum
from shared.db import Timestamps, UUIDPrimaryKey

WEBHOOK_URL_MAX_LENGTH = 1000
WEBHOOK_SECRET_MAX_LENGTH = 200


class WebhookEvent(StrEnum):
    """What a partner's webhook is told about its alerts."""

    APPROVED = "alert.approved"
    PUBLISHED = "alert.published"
    UPDATED = "alert.updated"
    CANCELLED = "alert.cancelled"
    DELIVERY_TOTALS = "alert.delivery_totals"


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(UUIDPrimaryKey, Timestamps, Base):
    """An API client's callback URL: told about the alerts it sent (author_id = client id).
    The secret signs each callback (HMAC-SHA256); it is never returned."""

    __tablename__ = "alert_webhooks"

    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    url: Mapped[str] = mapped_column(String(WEBHOOK_URL_MAX_LENGTH))
    secret: Mapped[str] = mapped_column(String(WEBHOOK_SECRET_MAX_LENGTH))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    __table_args__ = (Index("ix_alert_webhooks_client_id", "client_id"),)


class WebhookDelivery(UUIDPrimaryKey, Timestamps, Base):
    """One callback to one webhook, written in the transaction of the change it reports (so it
    is never lost, and never written twice), then sent by ``webhooks.worker`` with retries.
    Its id is the ``Tawny-Webhook-Id`` header, the same on every attempt: receivers drop
    repeats by it. The rows are the delivery log the client reads."""

    __tablename__ = "alert_webhook_deliveries"

    webhook_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_webhooks.id", ondelete="CASCADE")
    )
    event: Mapped[WebhookEvent] = mapped_column(text_enum(WebhookEvent, "webhook_event"))
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        text_enum(WebhookDeliveryStatus, "webhook_delivery_status"),
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The worker's claim: due pending deliveries, oldest first.
        Index(
            "ix_alert_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # The client's log: a webhook's deliveries, newest first.
        Index("ix_alert_webhook_deliveries_webhook_created", "webhook_id", "created_at", "id"),
    )
