"""What officers see of an alert's deliveries."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.models import ChannelKind, DeliveryStatus


class DeliverySummary(BaseModel):
    """How far one alert has got: its deliveries counted by channel and status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "alert_id": "7f0c2a52-3c1e-4a5e-9a7b-2f4d8f7e1b10",
                    "total": 1252,
                    "channels": {
                        "email": {
                            "pending": 2,
                            "created": 0,
                            "sending": 0,
                            "sent": 1247,
                            "failed": 3,
                            "held": 0,
                        }
                    },
                }
            ]
        }
    )

    alert_id: uuid.UUID
    total: int = Field(
        description="Deliveries recorded for the alert, on every channel: one per device, so a "
        "member's two browsers are two (the alert's published totals count members instead)"
    )
    channels: dict[ChannelKind, dict[DeliveryStatus, int]] = Field(
        description="Per channel with any deliveries, the count in each status (zeros included)"
    )
