"""What the token endpoints accept and return."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.identity.members.schemas import EmailAddress
from services.identity.passwords import PASSWORD_MAX_LENGTH


class TokenCreate(BaseModel):
    """Sign-in. The password policy is not applied here: only the stored hash decides."""

    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int = Field(description="Seconds until the token expires")


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
