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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
                    "member_id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "pseudonym": "Neighbour 4821",
                    "reason": "CAD 4821/23NOV: witness to a robbery, statement needed",
                    "status": "approved",
                    "requested_by": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "requested_at": "2026-11-23T12:00:00Z",
                    "approved_by": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
                    "approved_at": "2026-11-23T12:20:00Z",
                    "expires_at": "2026-11-24T12:20:00Z",
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "pseudonym": "Neighbour 4821",
                    "name": "Sam Taylor",
                    "email": "sam@example.com",
                    "phone": "+44 20 7946 0000",
                    "address": {
                        "address_lines": ["Flat 2", "10 Mansell Street"],
                        "postcode": "E1 8AA",
                    },
                }
            ]
        }
    )

    member_id: uuid.UUID
    pseudonym: str
    name: str | None
    email: str
    phone: str | None
    address: RevealedAddress | None
