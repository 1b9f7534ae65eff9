"""Settings of the alerts service, read from ``ALERTS_*`` variables (and the platform's own)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


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
