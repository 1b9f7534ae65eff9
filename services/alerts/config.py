"""Settings of the alerts service, read from ``ALERTS_*`` variables (and the platform's own)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServiceSettings


class AlertsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTS_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/alerts",
        description="The alerts service's own PostgreSQL database",
    )
    sender_name: str = Field(
        default="Tawny",
        min_length=1,
        max_length=100,
        description="Who alerts say they are from (CAP senderName), shown to every recipient",
    )
    cap_sender: str = Field(
        default="alerts@tawny.london",
        min_length=1,
        max_length=200,
        pattern=r"^[^\s,<&]+$",
        description="The CAP sender of alerts Tawny writes (no spaces, commas, < or &)",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000/api/alerts",
        max_length=500,
        description="Where the alerts API is reached publicly; used in feed links",
    )
    default_expiry_days: int = Field(
        default=7, ge=1, le=90, description="How long an alert stays current unless it says"
    )
    max_expiry_days: int = Field(
        default=90, ge=1, le=365, description="The furthest an alert's expiry may be"
    )
    cap_max_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=4 * 1024 * 1024,
        description="The largest CAP XML document accepted",
    )
    cap_schema_path: str | None = Field(
        default=None,
        max_length=1000,
        description="The official OASIS CAP-v1.2.xsd; when set, received CAP documents are "
        "validated against it (Tawny's own checks apply either way)",
    )
    scheduler_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often scheduled alerts are published and due alerts expired",
    )
    replies_per_member_per_hour: int = Field(
        default=5, ge=1, le=1000, description="How many replies one member may send in an hour"
    )
    unscoped_officers_cover_all: bool | None = Field(
        default=None,
        description="Whether an officer token with no area claims may write for any area; "
        "unset: yes outside production (the seeded demo officer), never in production",
    )

    @property
    def allow_unscoped_officers(self) -> bool:
        if self.environment is Environment.PRODUCTION:
            return False
        return (
            True if self.unscoped_officers_cover_all is None else self.unscoped_officers_cover_all
        )
