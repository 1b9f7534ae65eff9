"""Settings of the identity service (variables prefixed ``IDENTITY_``)."""

from __future__ import annotations

from pydantic import EmailStr, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


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

    def check_production(self) -> None:
        if any(
            value is not None
            for value in (self.seed_officer_email, self.seed_admin_email, self.seed_resident_email)
        ):
            raise ValueError("seeded members are for development and tests, never production")
        if not self.public_base_url.startswith("https://"):
            raise ValueError("IDENTITY_PUBLIC_BASE_URL must be https:// in production")
