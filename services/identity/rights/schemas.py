"""What the data-rights endpoints (export, erasure) accept and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.identity.passwords import PASSWORD_MAX_LENGTH


class ExportedMember(BaseModel):
    id: uuid.UUID
    pseudonym: str
    email: str
    roles: list[str]
    organisation_id: uuid.UUID | None
    verification_level: str
    created_at: datetime
    email_verified_at: datetime | None
    suspended_at: datetime | None
    two_factor_enabled: bool


class ExportedSession(BaseModel):
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class ExportedAuditEntry(BaseModel):
    at: datetime
    action: str
    actor_id: uuid.UUID | None
    details: dict[str, Any]


class MemberExport(BaseModel):
    export_id: uuid.UUID = Field(
        description="Other services add their part under this id (member.export_requested)"
    )
    generated_at: datetime
    member: ExportedMember
    sessions: list[ExportedSession]
    audit_entries: list[ExportedAuditEntry]


class SelfErasure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class StaffErasure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)
