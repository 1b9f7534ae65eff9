"""What a member sees in their inbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.inbox.repository import InboxEntry
from services.dispatch.models import ChannelKind, DeliveryStatus
from shared.events import AlertContent


class ChannelDelivery(BaseModel):
    channel: ChannelKind
    status: DeliveryStatus = Field(
        description="pending: waiting for a verified address; created or sending: on its way; "
        "sent: handed to the provider"
    )
    sent_at: datetime | None = Field(description="When the provider accepted it, once sent")


class InboxAlert(BaseModel):
    """One alert (or an update, cancellation or outcome of one) that reached the caller."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "alert_id": "7f0c2a52-3c1e-4a5e-9a7b-2f4d8f7e1b10",
                    "msg_type": "Alert",
                    "references": None,
                    "headline": "Burglaries on Acacia Avenue overnight",
                    "body": "Three homes were broken into between 1am and 4am.",
                    "instruction": "Lock windows and doors, and call 101 if you saw anything.",
                    "contact": None,
                    "web": None,
                    "category": "burglary",
                    "severity": "Moderate",
                    "urgency": "Expected",
                    "sender_name": "Tawny",
                    "sent_at": "2026-11-23T12:00:00Z",
                    "expires": "2026-11-30T12:00:00Z",
                    "received_at": "2026-11-23T12:00:01Z",
                    "deliveries": [
                        {"channel": "email", "status": "sent", "sent_at": "2026-11-23T12:00:02Z"}
                    ],
                }
            ]
        }
    )

    alert_id: uuid.UUID = Field(description="This message's id in the alerts service")
    msg_type: str = Field(description="Alert, Update or Cancel (CAP msgType)")
    references: uuid.UUID | None = Field(
        description="For an Update or Cancel, the id of the original alert"
    )
    headline: str
    body: str
    instruction: str | None
    contact: str | None
    web: str | None
    category: str = Field(description="The crime type")
    severity: str
    urgency: str
    sender_name: str
    sent_at: datetime = Field(description="When the alert was published")
    expires: datetime | None
    received_at: datetime = Field(description="When dispatch received it to deliver")
    deliveries: list[ChannelDelivery] = Field(description="How it reaches the caller, per channel")

    @classmethod
    def from_entry(cls, entry: InboxEntry) -> InboxAlert:
        content = AlertContent.model_validate(entry.content)
        return cls(
            alert_id=entry.alert_id,
            msg_type=content.msg_type,
            references=content.references,
            headline=content.headline,
            body=content.body,
            instruction=content.instruction,
            contact=content.contact,
            web=content.web,
            category=content.category,
            severity=content.severity,
            urgency=content.urgency,
            sender_name=content.sender_name,
            sent_at=content.sent_at,
            expires=content.expires,
            received_at=entry.received_at,
            deliveries=[
                ChannelDelivery(channel=d.channel, status=d.status, sent_at=d.sent_at)
                for d in entry.deliveries
            ],
        )
