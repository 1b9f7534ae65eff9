"""The geo service's settings, read from ``GEO_``-prefixed variables (e.g. ``GEO_DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

# Beside the repository, as in development checkouts (../shared/data/london).
DEFAULT_POSTCODES_CSV = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "london" / "postcodes.csv"
)


class GeoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GEO_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/geo",
        description="The geo service's PostgreSQL database: boundaries, subscriptions, audiences",
    )
    recipient_set_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Each alert's stored recipient set (who it reached, for its Updates and "
        "Cancels) is deleted this many days after it was resolved",
    )
    retention_interval_s: float = Field(
        default=3600.0,
        gt=0,
        le=86400,
        description="How often each process deletes recipient sets past their retention",
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
        description="Most subscriptions (areas watched) one member may have",
    )
    max_circle_radius_m: float = Field(
        default=5_000.0,
        ge=100.0,
        le=50_000.0,
        description="Largest radius, in metres, of a circle a member watches (smallest: 100); "
        "alert targets follow the targeting contract (shared/targeting.py) instead",
    )
    max_polygon_vertices: int = Field(
        default=10_000,
        ge=4,
        le=1_000_000,
        description="Most vertices of a polygon a member watches (alert targets: see "
        "shared/targeting.py)",
    )
    max_subscription_area_km2: float = Field(
        default=100.0,
        gt=0,
        le=10_000,
        description="Largest area, in km², of a polygon a member may watch",
    )
    max_area_body_bytes: int = Field(
        default=2_000_000,
        ge=1024,
        le=100_000_000,
        description="Largest request body, in bytes, of the subscription and preview endpoints",
    )
    map_simplify_tolerance_deg: float = Field(
        default=0.0003,
        ge=0,
        le=0.01,
        description="Tolerance, in degrees, of the simplified borough and ward GeoJSON for the map",
    )
    geocoder: Literal["csv", "http", "none"] = Field(
        default="csv",
        description="Postcode lookup: the offline CSV file, a postcodes.io-compatible API, or none",
    )
    postcodes_csv_path: str = Field(
        default=str(DEFAULT_POSTCODES_CSV),
        max_length=1000,
        description="The CSV geocoder's file (postcode,lat,lon,ward_code,borough_code)",
    )
    postcodes_api_url: str = Field(
        default="https://api.postcodes.io",
        max_length=500,
        description="Base URL of the postcodes.io-compatible API (geocoder=http)",
    )
    geocoder_timeout_s: float = Field(
        default=3.0, gt=0, le=60, description="Timeout of one HTTP geocoder request"
    )
    dashboard_suppress_below: int = Field(
        default=10,
        ge=1,
        description="The public dashboard's members-watching counts show any count from 1 up to "
        'this minus one as "fewer than N", so that nobody can be singled out (as '
        "ALERTS_DASHBOARD_SUPPRESS_BELOW for the alerts' figures)",
    )
    dashboard_max_age_s: int = Field(
        default=300,
        ge=0,
        description="Cache-Control max-age of the members-watching counts; London's per-borough "
        "counts are also kept this long in each process (0: counted on every request)",
    )
    dashboard_watchers_interval_s: int = Field(
        default=3600,
        ge=0,
        description="How often geo counts the members watching London, each borough and each "
        "ward and sends the counts to alerts (watchers.counted) for the dashboard's monthly "
        "open data, seconds (0: never)",
    )
