"""What the identity-reveal endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.identity.models import RevealStatus


class RevealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID
    reason: str = Field(
        min_length=10,
        max_length=1000,
        description="The police purpose: crime reference and why the identity is needed",
    )


class Reveal(BaseModel):
    """A request as staff see it: the member's pseudonym, never who they are."""

    id: uuid.UUID
    member_id: uuid.UUID
    pseudonym: str
    reason: str
    status: RevealStatus
    requested_by: uuid.UUID
    requested_at: datetime
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    expires_at: datetime | None


class RevealedAddress(BaseModel):
    address_lines: list[str]
    postcode: str


class RevealedIdentity(BaseModel):
    """Shown once, to the requester of an approved reveal."""

    member_id: uuid.UUID
    pseudonym: str
    name: str | None
    email: str
    phone: str | None
    address: RevealedAddress | None
