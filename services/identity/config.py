"""Settings of the identity service (variables prefixed ``IDENTITY_``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, TypeAlias

from pydantic import EmailStr, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServiceSettings

# Where the London wards file sits beside the repository in development checkouts.
DEV_WARDS_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "london" / "wards.csv"
DEFAULT_POSTCODES_CSV = DEV_WARDS_CSV.with_name("postcodes.csv")
# How long another service may keep identity's key set (shared.auth.JWKSVerifier's max age).
JWKS_MAX_CACHE_S = 300
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/identity",
        description="Identity's own PostgreSQL database",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        max_length=200,
        description="Where members reach Tawny (the gateway); verification links start with it",
    )
    access_token_ttl_s: int = Field(
        default=900,
        ge=60,
        le=900,
        description="Lifetime of an access token in seconds (at most 15 minutes)",
    )
    email_verification_ttl_h: int = Field(
        default=48,
        ge=1,
        le=168,
        description="How many hours an email-verification link stays usable",
    )
    refresh_token_ttl_h: int = Field(
        default=720,
        ge=1,
        le=2160,
        description="Lifetime of a refresh token in hours; each use replaces it with a new one",
    )
    signing_key_grace_s: int = Field(
        default=1800,
        ge=60,
        le=86_400,
        description=(
            "After a key rotation, how long the previous key stays in the JWKS once the new "
            "one signs; at "
            "least the access-token lifetime plus 5 minutes of JWKS caching"
        ),
    )
    signing_key_publish_ahead_s: int = Field(
        default=360,
        ge=0,
        le=86_400,
        description=(
            "After a key rotation, how long the new key is only published before it signs: "
            "longer than other services cache the JWKS (5 minutes)"
        ),
    )
    password_reset_ttl_min: int = Field(
        default=60,
        ge=5,
        le=1440,
        description="How many minutes a password-reset link stays usable",
    )
    emails_per_address: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Verification or password-reset emails sent to one address per window "
            "(IDENTITY_EMAIL_LIMIT_WINDOW_MIN); further requests are answered alike but send "
            "nothing"
        ),
    )
    email_limit_window_min: int = Field(
        default=60,
        ge=1,
        le=1440,
        description="The window of IDENTITY_EMAILS_PER_ADDRESS, in minutes",
    )
    data_keys: SecretStr | None = Field(
        default=None,
        max_length=2000,
        description=(
            "Keys that encrypt personal data and TOTP secrets (AES-256-GCM): comma-separated "
            "`key-id:base64url-32-bytes`; the first encrypts, all decrypt. Required in production"
        ),
    )
    blind_index_key: SecretStr | None = Field(
        default=None,
        max_length=100,
        description=(
            "HMAC key (base64url, 32 bytes) of the email blind index that finds a member by "
            "address; changing it needs a re-index. Required in production"
        ),
    )
    borough_wards_csv: Path | None = Field(
        default=None,
        description=(
            "CSV with code, borough_code and borough_name columns: a borough command is registered "
            "for each borough with its wards at startup. Unset in development: "
            "../shared/data/london/wards.csv when present"
        ),
    )
    seed_officer_borough_code: str | None = Field(
        default=None,
        max_length=40,
        description="Development only: the borough command (e.g. E09000001) of the seeded officer",
    )
    seeded_members_skip_totp: bool = Field(
        default=True,
        description=(
            "Seeded members sign in without TOTP even in staff roles (never in production, where "
            "seeding is refused)"
        ),
    )
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        max_length=1000,
        description=(
            "Comma-separated IPs or networks (10.0.0.0/8: the gateway's pods in a cluster) of "
            "proxies whose X-Forwarded-For names the client IP that sign-in throttling counts; a "
            "request from one without that header is throttled by account only. Empty: every "
            "direct peer is a client"
        ),
    )
    sign_in_free_failures_per_ip: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Failed sign-ins from one IP (any account) before each next attempt is delayed",
    )
    geocoder: Literal["csv", "http", "none"] = Field(
        default="csv",
        description=(
            "Postcode lookup for address verification: the offline CSV file, a "
            "postcodes.io-compatible API, or none"
        ),
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
    address_code_ttl_days: int = Field(
        default=30,
        ge=1,
        le=90,
        description="How many days the one-time code in an address-verification letter works",
    )
    address_code_max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Wrong entries of a letter's code before it stops working (a new letter)",
    )
    address_letters_per_30_days: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Address-verification letters one member may ask for in 30 days (each costs)",
    )
    upload_max_bytes: int = Field(
        default=5_000_000,
        ge=10_000,
        le=20_000_000,
        description="Largest proof of address or identity document a member may upload, bytes",
    )
    reveal_ttl_h: int = Field(
        default=24,
        ge=1,
        le=168,
        description="Hours an approved identity reveal may be read (once) by its requester",
    )
    unverified_purge_after_h: int = Field(
        default=168,
        ge=1,
        le=8760,
        description=(
            "Accounts whose email address was never verified are deleted this many hours "
            "after registering"
        ),
    )
    maintenance_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "How often each replica lapses expired coordinator vettings and purges unverified "
            "accounts, seconds"
        ),
    )
    audit_retention_days: int = Field(
        default=2190,
        ge=365,
        le=36500,
        description=(
            "Audit-log entries are deleted this many days after they were written, oldest "
            "first (6 years by default: the entries record identity reveals, vetting and "
            "verification decisions that may have to be disclosed in criminal proceedings or "
            "a complaint, and 6 years matches the usual limitation period for civil claims). "
            "One period for every entry, since only the oldest entries can go without "
            "breaking the hash chain"
        ),
    )
    audit_retention_interval_s: float = Field(
        default=3600.0,
        gt=0,
        le=86400,
        description="How often each replica deletes audit-log entries past their retention",
    )
    seed_officer_email: EmailStr | None = Field(
        default=None,
        max_length=254,
        description="Development only: create this verified officer at startup",
    )
    seed_officer_password: SecretStr | None = Field(
        default=None,
        max_length=128,
        description="Development only: the seeded officer's password",
    )
    seed_admin_email: EmailStr | None = Field(
        default=None,
        max_length=254,
        description="Development only: create this verified admin (also an officer) at startup",
    )
    seed_admin_password: SecretStr | None = Field(
        default=None,
        max_length=128,
        description="Development only: the seeded admin's password",
    )
    seed_resident_email: EmailStr | None = Field(
        default=None,
        max_length=254,
        description="Development only: create this verified resident at startup",
    )
    seed_resident_password: SecretStr | None = Field(
        default=None,
        max_length=128,
        description="Development only: the seeded resident's password",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses_or_networks(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip():
                try:
                    ipaddress.ip_network(entry.strip(), strict=False)
                except ValueError as error:
                    raise ValueError(
                        f"{entry.strip()!r} is not an IP address or network"
                    ) from error
        return value

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _seeds_come_in_pairs(self) -> IdentitySettings:
        for role in ("officer", "admin", "resident"):
            has_email = getattr(self, f"seed_{role}_email") is not None
            has_password = getattr(self, f"seed_{role}_password") is not None
            if has_email != has_password:
                raise ValueError(
                    f"IDENTITY_SEED_{role.upper()}_EMAIL and _PASSWORD must be set together"
                )
        return self

    @model_validator(mode="after")
    def _old_keys_outlive_their_tokens(self) -> IdentitySettings:
        if self.signing_key_grace_s < self.access_token_ttl_s + JWKS_MAX_CACHE_S:
            raise ValueError(
                "IDENTITY_SIGNING_KEY_GRACE_S must be at least the access-token lifetime "
                f"plus {JWKS_MAX_CACHE_S} s"
            )
        if self.access_token_ttl_s > self.jwt_max_lifetime_s:
            # Every service would refuse the tokens identity signs.
            raise ValueError("IDENTITY_ACCESS_TOKEN_TTL_S must not exceed JWT_MAX_LIFETIME_S")
        return self

    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(
            ipaddress.ip_network(entry.strip(), strict=False)
            for entry in self.trusted_proxies.split(",")
            if entry.strip()
        )

    def is_trusted_proxy(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # a Unix socket or a test client's made-up host name
            return False
        return any(address in network for network in self.trusted_proxy_networks())

    def wards_csv(self) -> Path | None:
        """The wards file that defines borough commands, if any."""
        if self.borough_wards_csv is not None:
            return self.borough_wards_csv
        if self.environment is Environment.DEVELOPMENT and DEV_WARDS_CSV.is_file():
            return DEV_WARDS_CSV
        return None

    def check_production(self) -> None:
        if any(
            value is not None
            for value in (self.seed_officer_email, self.seed_admin_email, self.seed_resident_email)
        ):
            raise ValueError("seeded members are for development and tests, never production")
        if self.data_keys is None:
            raise ValueError("IDENTITY_DATA_KEYS must be set in production")
        if self.blind_index_key is None:
            raise ValueError("IDENTITY_BLIND_INDEX_KEY must be set in production")
        if not self.public_base_url.startswith("https://"):
            raise ValueError("IDENTITY_PUBLIC_BASE_URL must be https:// in production")
