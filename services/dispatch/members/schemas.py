"""What a member sees of the endpoints dispatch holds for them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.dispatch import models
from services.dispatch.channels.webpush import parse_subscription_address
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
    """What a member recognises a device or address by, without what lets anyone send to it:
    a browser by its push service's origin, an app installation by its token's last four
    characters."""
    if channel is ChannelKind.EMAIL:
        return mask_email(address)
    if channel is ChannelKind.SMS:
        return mask_phone(address)
    if channel is ChannelKind.WEBPUSH:
        try:
            return parse_subscription_address(address).origin
        except ValueError:
            return "***"
    return f"***{address[-4:]}"


class Endpoint(BaseModel):
    """One address or device that alerts reach the caller on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b8f5d1e-6a4c-4f3e-9d2b-7c1a5e8f3b60",
                    "channel": "email",
                    "address": "j***@example.com",
                    "verified_at": "2026-11-23T12:00:00Z",
                    "registered_at": "2026-11-23T12:00:00Z",
                    "enabled": True,
                },
                {
                    "id": "5f0c6a52-1d8e-4c3b-9a57-2f4d8e6b1c90",
                    "channel": "webpush",
                    "address": "https://updates.push.services.mozilla.com",
                    "verified_at": "2026-11-24T08:30:00Z",
                    "registered_at": "2026-11-24T08:30:00Z",
                    "enabled": True,
                },
            ]
        }
    )

    id: uuid.UUID = Field(
        description="The endpoint's id: `DELETE /endpoints/me/{channel}/{id}` removes it"
    )
    channel: ChannelKind
    address: str = Field(
        description="The address, masked; for a browser its push service, for an app "
        "installation its token's last four characters"
    )
    verified_at: datetime = Field(
        description="When the member proved the address is theirs, or last registered the device"
    )
    registered_at: datetime = Field(description="When the address or device was first recorded")
    enabled: bool = Field(
        description="False when dispatch must not use it (the mailbox does not exist, the "
        "browser's subscription or the app's token is gone)"
    )

    @classmethod
    def from_model(cls, endpoint: models.MemberEndpoint) -> Endpoint:
        return cls(
            id=endpoint.id,
            registered_at=endpoint.created_at,
            channel=endpoint.channel,
            address=mask_address(endpoint.channel, endpoint.address),
            verified_at=endpoint.verified_at,
            enabled=endpoint.disabled_at is None,
        )


class ExportedEndpoint(Endpoint):
    """An endpoint in an export: parts collected before endpoints had ids (kept a week) have
    neither ``id`` nor ``registered_at``."""

    id: uuid.UUID | None = None  # type: ignore[assignment]
    registered_at: datetime | None = None  # type: ignore[assignment]


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

    endpoints: list[ExportedEndpoint]
    preferences: PreferencesDocument
    deliveries: list[ExportedDelivery]
    letters: list[ExportedLetter]
    notices: list[ExportedNotice]
    suspended_at: datetime | None
