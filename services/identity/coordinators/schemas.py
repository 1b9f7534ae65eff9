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
    model_config = ConfigDict(from_attributes=True)

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
