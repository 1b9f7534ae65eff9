"""What a member sees of the endpoints dispatch holds for them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.dispatch import models
from services.dispatch.models import ChannelKind
from services.dispatch.preferences.schemas import PreferencesDocument


def mask_email(address: str) -> str:
    """``jo@example.com`` -> ``j***@example.com``: enough to recognise, not to harvest."""
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(phone_number: str) -> str:
    """``+447700900123`` -> ``+44*******123``."""
    return phone_number[:3] + "*" * max(0, len(phone_number) - 6) + phone_number[-3:]


def mask_address(channel: ChannelKind, address: str) -> str:
    if channel is ChannelKind.EMAIL:
        return mask_email(address)
    if channel is ChannelKind.SMS:
        return mask_phone(address)
    return "***"


class Endpoint(BaseModel):
    """One channel that alerts reach the caller on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "email",
                    "address": "j***@example.com",
                    "verified_at": "2026-11-23T12:00:00Z",
                    "enabled": True,
                }
            ]
        }
    )

    channel: ChannelKind
    address: str = Field(description="The address, masked")
    verified_at: datetime = Field(description="When the member proved the address is theirs")
    enabled: bool = Field(description="False when dispatch must not use this channel")

    @classmethod
    def from_model(cls, endpoint: models.MemberEndpoint) -> Endpoint:
        return cls(
            channel=endpoint.channel,
            address=mask_address(endpoint.channel, endpoint.address),
            verified_at=endpoint.verified_at,
            enabled=endpoint.disabled_at is None,
        )


class ExportedDelivery(BaseModel):
    alert_id: uuid.UUID
    headline: str | None
    channel: ChannelKind
    status: str
    sent_at: datetime | None
    delivered_at: datetime | None


class ExportedLetter(BaseModel):
    letter_id: uuid.UUID
    status: str
    sent_at: datetime | None
    delivered_at: datetime | None


class ExportedNotice(BaseModel):
    kind: str
    sent_at: datetime


class DispatchExport(BaseModel):
    """What dispatch holds about the member: where alerts reach them (addresses masked: the
    full ones are in identity's part or the member's own devices), their preferences, the
    alerts sent to them on each channel (the latest 1,000), address letters, account notices,
    and whether identity suspended them."""

    endpoints: list[Endpoint]
    preferences: PreferencesDocument
    deliveries: list[ExportedDelivery]
    letters: list[ExportedLetter]
    notices: list[ExportedNotice]
    suspended_at: datetime | None
