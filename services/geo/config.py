"""The geo service's settings, read from ``GEO_``-prefixed variables (e.g. ``GEO_DATABASE_URL``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class GeoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GEO_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/geo",
        description="The geo service's PostgreSQL database: boundaries, subscriptions, audiences",
    )
    recipient_batch_size: int = Field(
        default=500,
        ge=1,
        le=5000,
        description="Members per RecipientBatch event when an alert's audience is resolved",
    )
    max_import_features: int = Field(
        default=5000,
        ge=1,
        le=100_000,
        description="Most features in one FeatureCollection that POST /admin/boundary-sets accepts",
    )
    max_import_vertices: int = Field(
        default=200_000,
        ge=4,
        le=10_000_000,
        description="Most vertices in one FeatureCollection that POST /admin/boundary-sets accepts",
    )
    max_import_body_bytes: int = Field(
        default=20_000_000,
        ge=1024,
        le=500_000_000,
        description="Largest request body, in bytes, that POST /admin/boundary-sets reads",
    )
    max_subscriptions_per_member: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="Most wards one member may subscribe to",
    )
