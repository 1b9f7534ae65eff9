"""What partners send and read about their webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.alerts.models import (
    WEBHOOK_SECRET_MAX_LENGTH,
    WEBHOOK_URL_MAX_LENGTH,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
)

WEBHOOK_SECRET_MIN_LENGTH = 24


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=8,
        max_length=WEBHOOK_URL_MAX_LENGTH,
        pattern=r"^https?://[^\s<>\"]+$",
        description="Where callbacks are POSTed; https (http only outside production)",
        examples=["https://cad.example.police.uk/tawny/callbacks"],
    )
    secret: SecretStr = Field(
        min_length=WEBHOOK_SECRET_MIN_LENGTH,
        max_length=WEBHOOK_SECRET_MAX_LENGTH,
        description="Keys the HMAC-SHA256 signature of every callback; never shown again",
        examples=["whsec-7d1f0c4b8e2a49f6a3c5d7e9b1f3a5c7"],
    )
    events: list[WebhookEvent] = Field(
        default_factory=lambda: list(WebhookEvent),
        min_length=1,
        description="What to be told about; default everything",
    )


class WebhookOut(BaseModel):
    """A registered webhook (the secret is never returned)."""

    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    active: bool
    created_at: datetime

    @classmethod
    def from_model(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            id=webhook.id,
            url=webhook.url,
            events=[WebhookEvent(e) for e in webhook.events],
            active=webhook.active,
            created_at=webhook.created_at,
        )


class WebhookDeliveryOut(BaseModel):
    """One callback: what it said, and how sending it went."""

    id: uuid.UUID = Field(description="The Tawny-Webhook-Id header of every attempt")
    event: WebhookEvent
    alert_id: uuid.UUID
    payload: dict[str, Any]
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def from_model(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        return cls(
            id=delivery.id,
            event=delivery.event,
            alert_id=delivery.alert_id,
            payload=delivery.payload,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
        )
