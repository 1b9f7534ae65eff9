"""Settings of the alerts service, read from ``ALERTS_*`` variables (and the platform's own)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServiceSettings

# Where the London ward files sit beside the repository in development checkouts.
DEV_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "london"
DEV_WARDS_CSV = DEV_DATA / "wards.csv"
DEV_WARDS_GEOJSON = DEV_DATA / "wards.geojson"
# The OASIS schema beside the checkout (../shared/data/cap), as in CI. It is not copied into
# the repository: OASIS publishes it "All Rights Reserved", and the project's reference data
# stays outside it.
BESIDE_CAP_XSD = Path(__file__).resolve().parents[3] / "shared" / "data" / "cap" / "CAP-v1.2.xsd"


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
        description="The largest CAP XML document accepted (one alert per request; real "
        "messages are a few kB to a few tens of kB)",
    )
    cap_schema_path: str | None = Field(
        default=None,
        max_length=1000,
        description="The official OASIS CAP-v1.2.xsd every received CAP document is validated "
        "against. Unset: ../shared/data/cap/CAP-v1.2.xsd beside the checkout when present; "
        "production refuses to start without one",
    )
    scheduler_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often scheduled alerts are published and due alerts expired",
    )
    reply_retention_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Members' replies (and staff's answers) are deleted this many days after "
        "they were written",
    )
    reply_photo_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Photos attached to replies are deleted this many days after the upload "
        "(the reply's text stays until reply_retention_days)",
    )
    retention_interval_s: float = Field(
        default=3600.0,
        gt=0,
        le=86400,
        description="How often each process deletes replies and photos past their retention",
    )
    replies_per_member_per_hour: int = Field(
        default=5, ge=1, le=1000, description="How many replies one member may send in an hour"
    )
    image_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=10 * 1024,
        le=20 * 1024 * 1024,
        description="The largest picture accepted (an alert's image or a reply's photo), in bytes",
    )
    image_max_pixels: int = Field(
        default=24_000_000,
        ge=10_000,
        # Below Pillow's own decompression-bomb threshold (about 89 million pixels).
        le=80_000_000,
        description="The most pixels (width x height) a picture may have; checked from its "
        "header before it is decoded, so a decompression bomb is refused unread",
    )
    image_max_side_px: int = Field(
        default=8000,
        ge=100,
        le=20_000,
        description="The longest side, in pixels, a picture may have",
    )
    unscoped_officers_cover_all: bool | None = Field(
        default=None,
        description="Whether an officer token with no area claims may write for any area; "
        "unset: yes outside production (the seeded demo officer), never in production",
    )

    webhook_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often each replica looks for partners' webhook callbacks due",
    )
    webhook_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="How long a partner's webhook may take to answer one callback",
    )
    webhook_max_attempts: int = Field(
        default=10,
        ge=1,
        le=50,
        description="Attempts at one callback before it is marked failed in the delivery log",
    )
    webhook_backoff_base_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="The pause after a callback's first failed attempt; it doubles each time "
        "(with jitter) up to ALERTS_WEBHOOK_BACKOFF_MAX_S",
    )
    webhook_backoff_max_s: float = Field(
        default=3600.0,
        gt=0,
        le=86_400,
        description="The longest pause between attempts at one callback",
    )
    webhook_batch_size: int = Field(
        default=50, ge=1, le=1000, description="Callbacks one replica sends at once"
    )
    webhook_allow_http: bool | None = Field(
        default=None,
        description="Whether webhook URLs may be plain http; unset: yes outside production "
        "(a partner's test receiver on 127.0.0.1), never in production",
    )

    wards_csv: Path | None = Field(
        default=None,
        description="CSV with code and borough_code columns (ONS wards, as identity's "
        "IDENTITY_BOROUGH_WARDS_CSV): which borough each targeted ward is in, so that an "
        "officer of every borough a target touches approves it. Required in production; unset "
        "in development: ../shared/data/london/wards.csv when present",
    )
    wards_geojson: Path | None = Field(
        default=None,
        description="GeoJSON of ward boundaries (properties code and borough_code): the wards "
        "and boroughs a circle or polygon target touches, for approval and the feeds. Unset in "
        "development: ../shared/data/london/wards.geojson when present; without it such shapes "
        "count toward no ward or borough",
    )

    dashboard_suppress_below: int = Field(
        default=10,
        ge=1,
        description="The public dashboard and its open data show any count from 1 up to this "
        'minus one as "fewer than N", so that nobody can be singled out; officers see their own '
        "boroughs' counts unsuppressed",
    )
    dashboard_max_age_s: int = Field(
        default=300,
        ge=0,
        description="Cache-Control max-age of the public dashboard figures and open data",
    )

    def ward_boroughs_path(self) -> Path | None:
        if self.wards_csv is not None:
            return self.wards_csv
        if self.environment is Environment.DEVELOPMENT and DEV_WARDS_CSV.is_file():
            return DEV_WARDS_CSV
        return None

    def ward_boundaries_path(self) -> Path | None:
        if self.wards_geojson is not None:
            return self.wards_geojson
        if self.environment is Environment.DEVELOPMENT and DEV_WARDS_GEOJSON.is_file():
            return DEV_WARDS_GEOJSON
        return None

    def cap_schema(self) -> str | None:
        """The CAP schema to validate against: the configured path, else the one beside the
        checkout (None only outside production, where it is then logged at startup)."""
        if self.cap_schema_path is not None:
            return self.cap_schema_path
        return str(BESIDE_CAP_XSD) if BESIDE_CAP_XSD.is_file() else None

    def check_production(self) -> None:
        if self.cap_schema() is None:
            raise ValueError(
                "ALERTS_CAP_SCHEMA_PATH must name the OASIS CAP-v1.2.xsd in production: "
                "received CAP is validated against it"
            )
        if self.wards_csv is None:
            raise ValueError(
                "ALERTS_WARDS_CSV must be set in production: without it nobody can tell which "
                "boroughs' officers must approve an alert"
            )

    @property
    def webhooks_may_use_http(self) -> bool:
        if self.environment is Environment.PRODUCTION:
            return False
        return True if self.webhook_allow_http is None else self.webhook_allow_http

    @property
    def allow_unscoped_officers(self) -> bool:
        if self.environment is Environment.PRODUCTION:
            return False
        return (
            True if self.unscoped_officers_cover_all is None else self.unscoped_officers_cover_all
        )
