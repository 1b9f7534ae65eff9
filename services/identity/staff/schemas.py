"""What the staff endpoints (roles, suspension) accept and return."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.identity.models import Role


class RolesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    organisation_id: uuid.UUID | None = Field(
        default=None, description="The organisation the member acts for; null for none"
    )


class SuspensionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class MemberAccess(BaseModel):
    """What staff see of a member: never a name, address or email."""

    member_id: uuid.UUID
    pseudonym: str
    roles: list[str]
    organisation_id: uuid.UUID | None
    verification_level: str
    suspended_at: datetime | None
