"""The gateway's settings.

The gateway has no database and no broker, so it does not use ``ServiceSettings``; it reads
the platform-wide ``TAWNY_ENV``, ``LOG_LEVEL`` and ``LOG_JSON`` the same way every service does,
and its own values with the ``GATEWAY_`` prefix, for example ``GATEWAY_ALERTS_URL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import httpx
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServerProcessSettings, platform_field

MIB: Final = 1024 * 1024

# The services reachable under /api/<name>, with a line each for the API documentation page.
UPSTREAM_SERVICES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "identity": "Members: registration, email verification, sign-in and access tokens.",
        "alerts": "Alerts: drafting, police approval and publication.",
        "geo": "Places: London's wards and who lives near an alert.",
        "dispatch": "Delivery: sending published alerts to members on their chosen channels.",
    }
)


class GatewaySettings(ServerProcessSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    environment: Environment = platform_field(  # type: ignore[assignment]
        "TAWNY_ENV", Environment.DEVELOPMENT, "development, test or production"
    )
    log_level: str = platform_field("LOG_LEVEL", "INFO", "Log level")  # type: ignore[assignment]
    log_json: bool = platform_field(  # type: ignore[assignment]
        "LOG_JSON", True, "Write logs as JSON lines (false: coloured console lines)"
    )

    jwt_issuer: str = platform_field(  # type: ignore[assignment]
        "JWT_ISSUER", "https://tawny.london/identity", "The iss claim of access tokens"
    )
    jwt_audience: str = platform_field(  # type: ignore[assignment]
        "JWT_AUDIENCE", "tawny", "The aud claim of access tokens"
    )
    jwt_max_lifetime_s: int = platform_field(  # type: ignore[assignment]
        "JWT_MAX_LIFETIME_S",
        900,
        "Longest an access token may live (exp after iat or now); longer-lived ones are refused",
    )

    identity_url: str = Field(
        default="http://127.0.0.1:8001",
        max_length=2048,
        description="Base URL of the identity service; /api/identity/... is forwarded here",
    )
    alerts_url: str = Field(
        default="http://127.0.0.1:8002",
        max_length=2048,
        description="Base URL of the alerts service; /api/alerts/... is forwarded here",
    )
    geo_url: str = Field(
        default="http://127.0.0.1:8003",
        max_length=2048,
        description="Base URL of the geo service; /api/geo/... is forwarded here",
    )
    dispatch_url: str = Field(
        default="http://127.0.0.1:8004",
        max_length=2048,
        description="Base URL of the dispatch service; /api/dispatch/... is forwarded here",
    )
    upstream_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a forwarded request may wait at each step (a free pooled connection, "
        "sending, each read of the answer) before the gateway answers 504",
    )
    connect_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds to wait for a TCP connection to a service",
    )
    readiness_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="Seconds /readyz waits, in total, for each service's own /readyz",
    )
    max_body_bytes: int = Field(
        default=10 * MIB,
        ge=0,
        le=1024 * MIB,
        description="Largest request body forwarded to a service; larger bodies get 413",
    )
    max_in_flight: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Most requests this gateway process works on at once (pages and API); "
        "beyond it the answer is an immediate 503 with Retry-After",
    )
    max_in_flight_per_service: int = Field(
        default=48,
        ge=1,
        le=10_000,
        description="Most requests forwarded to one service at once by this process; beyond it "
        "an immediate 503 with Retry-After (also the size of each service's connection pool)",
    )
    overload_retry_after_s: int = Field(
        default=1,
        ge=1,
        le=3600,
        description="Seconds a refused (503) caller is told to wait in Retry-After",
    )
    public_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="Seconds an anonymous public read (alert pages, feeds, boundaries) is served "
        "from the gateway's memory before the service is asked again; 0 turns the cache off",
    )
    public_cache_max_entries: int = Field(
        default=2_000,
        ge=1,
        le=1_000_000,
        description="Most answers kept in the public-read cache (least recently used dropped)",
    )
    public_cache_max_body_bytes: int = Field(
        default=512 * 1024,
        ge=0,
        le=64 * MIB,
        description="Largest answer kept in the public-read cache; larger ones are forwarded "
        "every time",
    )

    cors_origins: list[str] = Field(
        default_factory=list,
        description="Other origins whose browser pages may call the API (a JSON list, e.g. "
        '["https://police.example"]); empty: the gateway\'s own pages only',
    )
    rate_limit_per_ip_per_minute: int = Field(
        default=600, ge=1, le=1_000_000, description="API requests a minute from one address"
    )
    rate_limit_per_account_per_minute: int = Field(
        default=300,
        ge=1,
        le=1_000_000,
        description="API requests a minute by one signed-in account",
    )
    rate_limit_ip_burst: int = Field(
        default=60, ge=1, le=100_000, description="Requests one address may make at once"
    )
    rate_limit_account_burst: int = Field(
        default=30, ge=1, le=100_000, description="Requests one account may make at once"
    )
    map_tile_url: str = Field(
        default="",
        max_length=2048,
        description="Origin of a map tile server the web client may load images from; "
        "empty: no tiles (boundaries only)",
    )

    @field_validator("identity_url", "alerts_url", "geo_url", "dispatch_url")
    @classmethod
    def _plain_http_base_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as error:
            raise ValueError(f"not a URL: {error}") from error
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an absolute http:// or https:// URL")
        if url.query or url.fragment or url.userinfo:
            raise ValueError("must not carry a query, a fragment or credentials")
        # Stored without a trailing slash so that joining "/" + path never doubles it.
        return str(url).rstrip("/")

    def upstream_urls(self) -> dict[str, str]:
        """Each upstream service's base URL, by the name used in /api/<name>/."""
        return {
            "identity": self.identity_url,
            "alerts": self.alerts_url,
            "geo": self.geo_url,
            "dispatch": self.dispatch_url,
        }
