"""What the coordinator-vetting endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.identity.models import ApplicationStatus


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheme_id: uuid.UUID = Field(description="The Neighbourhood Watch scheme to coordinate")
    statement: str = Field(
        min_length=10,
        max_length=2000,
        description="Why the member applies: their connection to the area, experience",
    )


class ApplicationApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vetting_reference: str = Field(
        min_length=3,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9/._-]*$",
        description="The police vetting record's reference",
    )
    vetting_expires_on: date = Field(
        description="The last day the vetting is valid; coordinator rights lapse after it"
    )


class ApplicationRefusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class Application(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5c4b3a29-1807-4f6e-9d5c-4b3a29180706",
                    "member_id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "scheme_id": "0b7f3c52-8c1e-4f7e-9d0a-2c5d3f1e6a90",
                    "statement": "I have lived on Mansell Street for twelve years.",
                    "status": "approved",
                    "created_at": "2026-11-20T09:00:00Z",
                    "decided_at": "2026-11-23T12:00:00Z",
                    "decided_by": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "vetting_reference": "MPS/NPPV2/48213",
                    "vetting_expires_on": "2029-11-30",
                    "refusal_reason": None,
                    "lapsed_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    member_id: uuid.UUID
    scheme_id: uuid.UUID
    statement: str
    status: ApplicationStatus
    created_at: datetime
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    vetting_reference: str | None
    vetting_expires_on: date | None
    refusal_reason: str | None
    lapsed_at: datetime | None


class ApplicationReview(Application):
    """What an officer or verifier reads before deciding: the pseudonym, never a name."""

    pseudonym: str
