"""Web push: the VAPID key and contact that sign every push, how long push services keep
an alert, how fast and how many at once, and the push services members may register
(``DISPATCH_WEBPUSH_*``)."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pydantic import BaseModel, Field, SecretStr, field_validator

MAX_WEBPUSH_TIMEOUT_S = 20.0
# RFC 8030 lets a push service cap TTL; 28 days is the longest the big ones keep a message.
MAX_WEBPUSH_TTL_S = 28 * 86400


class WebPushSettings(BaseModel):
    webpush_vapid_private_key: SecretStr | None = Field(
        default=None,
        max_length=512,
        description="The VAPID (RFC 8292) signing key of web push: a P-256 private key as "
        "base64url (32 raw bytes, or DER). Unset outside production: a new key per process, so "
        "set one shared key when several dispatchers run (the dev stack does)",
    )
    webpush_vapid_subject: str = Field(
        default="mailto:alerts@tawny.london",
        min_length=8,
        max_length=320,
        description="The VAPID 'sub' claim: a mailto: (or https:) contact push services may use "
        "to reach the platform's operators",
    )
    webpush_ttl_s: int = Field(
        default=86400,
        ge=0,
        le=MAX_WEBPUSH_TTL_S,
        description="How long a push service keeps an alert for a browser that is offline, seconds",
    )
    webpush_concurrency: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Web pushes one dispatch process has in flight at once (so the most HTTP "
        "connections to push services)",
    )
    webpush_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_WEBPUSH_TIMEOUT_S,
        description="Longest time one push request to a push service may take, in seconds",
    )
    webpush_rate_per_s: float = Field(
        default=0.0,
        ge=0,
        le=100_000,
        description="Web pushes per second the whole deployment may send (a token bucket "
        "shared through PostgreSQL); 0: no limit",
    )
    webpush_rate_burst: int = Field(
        default=100, ge=1, le=100_000, description="Token bucket size for webpush_rate_per_s"
    )
    webpush_insecure_origins: str = Field(
        default="",
        max_length=1000,
        description="Comma-separated http:// origins (scheme://host:port) whose push endpoints "
        "members may register, such as the dev stack's push sink; refused in production",
    )

    @field_validator("webpush_vapid_subject")
    @classmethod
    def _is_a_contact(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")):
            raise ValueError("must be a mailto: or https: URI (RFC 8292 section 2.1)")
        return value

    @field_validator("webpush_vapid_private_key")
    @classmethod
    def _is_a_vapid_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            Vapid02.from_string(value.get_secret_value())
        except Exception as error:  # py_vapid raises several kinds for a malformed key
            raise ValueError("must be a P-256 private key as base64url (raw or DER)") from error
        return value

    @field_validator("webpush_insecure_origins")
    @classmethod
    def _are_http_origins(cls, value: str) -> str:
        for origin in _split_origins(value):
            parts = urlsplit(origin)
            if parts.scheme != "http" or not parts.netloc or parts.path or parts.query:
                raise ValueError(f"not an http origin (http://host:port): {origin!r}")
        return value

    @property
    def webpush_insecure_origin_list(self) -> tuple[str, ...]:
        return tuple(_split_origins(self.webpush_insecure_origins))

    @property
    def vapid(self) -> Vapid02:
        if self.webpush_vapid_private_key is None:
            raise ValueError("DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY is not set")
        return Vapid02.from_string(self.webpush_vapid_private_key.get_secret_value())

    def _check_webpush_for_production(self) -> None:
        if self.webpush_vapid_private_key is None:
            raise ValueError(
                "DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY must be set in production: browsers bind "
                "their subscriptions to its public key"
            )
        if self.webpush_insecure_origins.strip():
            raise ValueError("DISPATCH_WEBPUSH_INSECURE_ORIGINS must be empty in production")


def new_vapid_private_key() -> str:
    """A fresh P-256 private key as base64url of its 32 raw bytes (what VAPID tools print)."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _split_origins(value: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
