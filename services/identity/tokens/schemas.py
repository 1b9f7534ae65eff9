"""What the token endpoints accept and return."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.identity.members.schemas import EmailAddress
from services.identity.passwords import PASSWORD_MAX_LENGTH


class TokenCreate(BaseModel):
    """Sign-in. The password policy is not applied here: only the stored hash decides."""

    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    totp_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="Staff: the authenticator app's code"
    )
    recovery_code: str | None = Field(
        default=None, min_length=6, max_length=20, description="Staff: a one-time recovery code"
    )


REFRESH_TOKEN_MAX_LENGTH = 128


class RefreshTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=REFRESH_TOKEN_MAX_LENGTH)


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int = Field(description="Seconds until the token expires")
    refresh_token: str = Field(description="Use once at POST /tokens/refresh for a new pair")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")
    roles: list[str] = Field(description="The roles the access token carries")
    two_factor_enrolment_required: bool = Field(
        default=False,
        description=(
            "True for a staff member without TOTP: the token carries no staff roles until "
            "they enrol (POST /members/me/totp) and sign in again with a code"
        ),
    )


class KeyRotation(BaseModel):
    kid: str = Field(description="The new key, in the JWKS already")
    signs_from: datetime = Field(description="When the new key starts signing")
    retiring_kids: list[str] = Field(description="Keys that stay in the JWKS until retire_at")
    retire_at: datetime


class JsonWebKey(BaseModel):
    """The public half of an Ed25519 signing key (RFC 8037)."""

    kty: Literal["OKP"] = "OKP"
    crv: Literal["Ed25519"] = "Ed25519"
    x: str
    kid: str
    use: Literal["sig"] = "sig"
    alg: Literal["EdDSA"] = "EdDSA"


class JsonWebKeySet(BaseModel):
    keys: list[JsonWebKey]
