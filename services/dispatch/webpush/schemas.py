"""A browser's ``PushSubscription.toJSON()``, as a member registers it, and the VAPID key."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from services.dispatch.channels.webpush import (
    AUTH_LENGTH,
    ENDPOINT_MAX_LENGTH,
    P256DH_LENGTH,
    check_subscription_keys,
)

_EXAMPLE_SUBSCRIPTION: dict[str, JsonValue] = {
    "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk-example",
    "expirationTime": None,
    "keys": {
        "p256dh": (
            "BN7JPa5gdp3GSmO08c9sb0ZKxSxZS7EBEE43fmPzaYeHppmNIBi5oaExcgF"
            "lfVlgo4n2jr7WujWmGYsw4_Oc-3c"
        ),
        "auth": "d1mzX_KzlDs5I0bIX4ZyCw",
    },
}


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Padded base64url is accepted too, so a little longer than the unpadded lengths.
    p256dh: str = Field(
        min_length=P256DH_LENGTH,
        max_length=P256DH_LENGTH + 1,
        description="The browser's P-256 public key (65 octets, base64url)",
    )
    auth: str = Field(
        min_length=AUTH_LENGTH,
        max_length=AUTH_LENGTH + 2,
        description="The browser's authentication secret (16 octets, base64url)",
    )


class WebPushSubscriptionIn(BaseModel):
    """What ``PushSubscription.toJSON()`` gives in the member's browser."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [_EXAMPLE_SUBSCRIPTION]}
    )

    endpoint: str = Field(
        min_length=10,
        max_length=ENDPOINT_MAX_LENGTH,
        description="The push service URL to send to: https (an http origin only where the "
        "deployment allows it, such as the dev stack's push sink)",
    )
    expiration_time: float | None = Field(
        default=None,
        alias="expirationTime",
        ge=0,
        description="When the subscription expires (ms since the epoch), if the browser says",
    )
    keys: SubscriptionKeys

    @field_validator("keys")
    @classmethod
    def _keys_are_usable(cls, keys: SubscriptionKeys) -> SubscriptionKeys:
        check_subscription_keys(keys.p256dh, keys.auth)
        return keys


class VapidPublicKey(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "application_server_key": (
                        "BOHi8kRZqDWaq5zKusjLlS0ocXPFfLwnUEQPnTz4z8y2a_lsyOYTlwg"
                        "INRxn0MIj8Zq7ddd2ztGi3aYbLwo7tXo"
                    )
                }
            ]
        }
    )

    application_server_key: str = Field(
        description="The platform's VAPID public key (base64url, 65 octets): the "
        "applicationServerKey to pass to pushManager.subscribe()"
    )


class WebPushSubscriptionOut(BaseModel):
    """The subscription dispatch holds for the caller, without its keys."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0c6a52-1d8e-4c3b-9a57-2f4d8e6b1c90",
                    "push_service": "https://updates.push.services.mozilla.com",
                    "enabled": True,
                }
            ]
        }
    )

    id: uuid.UUID = Field(
        description="This browser's endpoint id: `DELETE /endpoints/me/webpush/{id}` removes it"
    )
    push_service: str = Field(description="The origin of the subscription's push service")
    enabled: bool = Field(description="False once the push service said it is gone")
