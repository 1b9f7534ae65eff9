"""What members are sent and may register: the public address their unsubscribe links
start with, the key that signs those links, and how many browsers and app installations
each may register (``DISPATCH_PUBLIC_BASE_URL``, ``DISPATCH_UNSUBSCRIBE_KEY``,
``DISPATCH_DEVICES_PER_CHANNEL``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

# Signs unsubscribe links in development and tests only; production refuses to start without
# its own key.
DEV_UNSUBSCRIBE_KEY = "tawny-development-unsubscribe-key-not-secret"
UNSUBSCRIBE_KEY_MIN_LENGTH = 32
DEFAULT_DEVICES_PER_CHANNEL = 10


class MemberSettings(BaseModel):
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        max_length=200,
        description="Where members reach Tawny (the gateway); unsubscribe links start with it",
    )
    unsubscribe_key: SecretStr | None = Field(
        default=None,
        min_length=UNSUBSCRIBE_KEY_MIN_LENGTH,
        max_length=256,
        description="HMAC key that signs one-click unsubscribe links; required in production "
        "(a development key is used otherwise). Changing it voids the links already sent",
    )
    devices_per_channel: int = Field(
        default=DEFAULT_DEVICES_PER_CHANNEL,
        ge=1,
        le=100,
        description="Browsers (web push subscriptions) and app installations (FCM tokens) one "
        "member may register on each of those channels; past it the member removes one first",
    )

    @field_validator("public_base_url")
    @classmethod
    def _http_url_without_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def unsubscribe_key_value(self) -> bytes:
        if self.unsubscribe_key is None:
            return DEV_UNSUBSCRIBE_KEY.encode()
        return self.unsubscribe_key.get_secret_value().encode()

    def _check_member_links_for_production(self) -> None:
        if self.unsubscribe_key is None:
            raise ValueError("DISPATCH_UNSUBSCRIBE_KEY must be set in production")
        if not self.public_base_url.startswith("https://"):
            raise ValueError("DISPATCH_PUBLIC_BASE_URL must be https:// in production")
