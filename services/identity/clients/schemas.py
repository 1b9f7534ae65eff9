"""What the API-client endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.identity.models import API_CLIENT_NAME_MAX_LENGTH, ApiScope


class ApiClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=API_CLIENT_NAME_MAX_LENGTH)
    organisation_id: uuid.UUID
    scopes: list[ApiScope] = Field(min_length=1, max_length=len(ApiScope))


class ApiClient(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The client_id")
    name: str
    organisation_id: uuid.UUID
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    secret_rotated_at: datetime | None
    revoked_at: datetime | None


class ApiClientWithSecret(ApiClient):
    client_secret: str = Field(description="Shown only in this response: store it now")


class ClientToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int
    scope: str
