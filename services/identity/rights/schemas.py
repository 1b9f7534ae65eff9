"""What the data-rights endpoints (export, erasure) accept and return."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.identity.passwords import PASSWORD_MAX_LENGTH


class ExportedAddress(BaseModel):
    address_lines: list[str]
    postcode: str


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
    name: str | None
    phone: str | None
    address: ExportedAddress | None
    home_ward_code: str | None
    address_verified_at: datetime | None
    identity_verified_at: datetime | None


class ExportedAddressVerification(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    method: str
    status: str
    ward_code: str
    created_at: datetime
    decided_at: datetime | None
    refusal_reason: str | None


class ExportedIdentityCheck(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    document_type: str
    outcome: str
    checked_on: date
    recorded_at: datetime


class ExportedCoordinatorApplication(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scheme_id: uuid.UUID
    statement: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    vetting_expires_on: date | None
    refusal_reason: str | None
    lapsed_at: datetime | None


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
    address_verifications: list[ExportedAddressVerification]
    identity_checks: list[ExportedIdentityCheck]
    coordinator_applications: list[ExportedCoordinatorApplication]
    sessions: list[ExportedSession]
    audit_entries: list[ExportedAuditEntry]


class SelfErasure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    keep_reply_text: bool = Field(
        default=False,
        description="Leave the text of my replies to alerts for the police, with no name, "
        "pseudonym or id attached; otherwise they are deleted. Photos are deleted either way.",
    )


class StaffErasure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)
