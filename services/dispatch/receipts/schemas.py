"""The delivery-receipt callback GOV.UK Notify posts for each SMS (and letter)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

DELIVERED = "delivered"
FAILURES = frozenset({"permanent-failure", "temporary-failure", "technical-failure"})


class NotifyReceipt(BaseModel):
    """Notify's callback body. Fields Tawny does not use are accepted and ignored, as Notify
    may add more."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "740e5834-3a29-46b4-9a6f-16142fde533a",
                    "reference": "0b4c4a4e-8a4f-4b43-9b52-4c1d2f8f2e11",
                    "to": "+447700900123",
                    "status": "delivered",
                    "created_at": "2026-11-23T12:00:00.000000Z",
                    "completed_at": "2026-11-23T12:00:04.000000Z",
                    "sent_at": "2026-11-23T12:00:01.000000Z",
                    "notification_type": "sms",
                    "template_id": "2c0d3b4e-2f0a-4a55-9d52-0d6f3d6a7e01",
                    "template_version": 1,
                }
            ]
        },
    )

    id: uuid.UUID = Field(description="Notify's notification id (the provider reference)")
    reference: str | None = Field(
        default=None, max_length=1000, description="The reference Tawny sent with the message"
    )
    to: str | None = Field(default=None, max_length=1000, description="The recipient")
    status: str = Field(
        min_length=1,
        max_length=50,
        description="delivered, permanent-failure, temporary-failure or technical-failure",
    )
    completed_at: datetime | None = Field(default=None, description="When the status was final")
    notification_type: str | None = Field(default=None, max_length=20)
