"""What the address- and identity-verification endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.identity.models import (
    AddressMethod,
    AddressVerificationStatus,
    CheckOutcome,
    IdentityDocumentType,
)

NAME_MAX_LENGTH = 100
ADDRESS_LINE_MAX_LENGTH = 100
MAX_ADDRESS_LINES = 4
LETTER_CODE_LENGTH = 8

# Printed on a letter: one line each, so no line breaks or other control characters.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
AddressLine = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=ADDRESS_LINE_MAX_LENGTH,
        pattern=PRINTABLE,
    ),
]
PersonName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH, pattern=PRINTABLE
    ),
]
PostcodeText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=10)]


class PostalAddress(BaseModel):
    """Who lives where: the name the letter is addressed to, the lines above the postcode."""

    model_config = ConfigDict(extra="forbid")

    name: PersonName = Field(examples=["Sam Taylor"])
    address_lines: list[AddressLine] = Field(
        min_length=1, max_length=MAX_ADDRESS_LINES, examples=[["Flat 2", "10 Mansell Street"]]
    )
    postcode: PostcodeText = Field(examples=["E1 8AA"])


class AddressCodeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=LETTER_CODE_LENGTH,
        max_length=LETTER_CODE_LENGTH + 2,
        description="The code printed in the letter (spaces and case do not matter)",
    )


class AddressVerificationState(BaseModel):
    """The member's own view of an attempt: never the code."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3d6f9e2a-1b4c-4d5e-8f70-9a1b2c3d4e5f",
                    "method": "letter",
                    "status": "pending",
                    "ward_code": "E05009317",
                    "created_at": "2026-11-23T12:00:00Z",
                    "expires_at": "2026-12-23T12:00:00Z",
                    "attempts_left": 5,
                    "verification_level": "email",
                }
            ]
        }
    )

    id: uuid.UUID
    method: AddressMethod
    status: AddressVerificationStatus
    ward_code: str
    created_at: datetime
    expires_at: datetime | None = Field(description="Until when the letter's code works")
    attempts_left: int | None = Field(description="Wrong codes still allowed (letters only)")
    verification_level: str


class AddressDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str | None = Field(
        default=None, min_length=3, max_length=500, description="Why it is refused (required)"
    )

    @model_validator(mode="after")
    def _refusal_has_reason(self) -> AddressDecision:
        if not self.approve and self.reason is None:
            raise ValueError("a refusal needs a reason")
        return self


class AddressProofReview(BaseModel):
    """What a verifier needs to compare with the uploaded proof, and no more."""

    id: uuid.UUID
    member_id: uuid.UUID
    pseudonym: str
    status: AddressVerificationStatus
    name: str
    address_lines: list[str]
    postcode: str
    ward_code: str
    submitted_at: datetime
    document_id: uuid.UUID | None


class DocumentUploaded(BaseModel):
    document_id: uuid.UUID
    content_type: str
    size_bytes: int


class IdentityCheckCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_type: IdentityDocumentType
    outcome: CheckOutcome
    checked_on: date = Field(description="The day the document was checked")
    document_id: uuid.UUID | None = Field(
        default=None, description="The member's uploaded document that was checked; deleted now"
    )


class IdentityCheckRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    document_type: IdentityDocumentType
    outcome: CheckOutcome
    verifier_id: uuid.UUID
    checked_on: date
    document_deleted: bool
    recorded_at: datetime
    verification_level: str


class QueueItem(BaseModel):
    """One thing waiting for staff: who (pseudonym) and what, never a name."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "address_proof",
                    "id": "3d6f9e2a-1b4c-4d5e-8f70-9a1b2c3d4e5f",
                    "member_id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "pseudonym": "Neighbour 4821",
                    "submitted_at": "2026-11-23T12:00:00Z",
                    "scheme_id": None,
                }
            ]
        }
    )

    kind: Literal["address_proof", "identity_document", "coordinator_application"]
    id: uuid.UUID
    member_id: uuid.UUID
    pseudonym: str
    submitted_at: datetime
    scheme_id: uuid.UUID | None = None


class VerificationQueue(BaseModel):
    items: list[QueueItem]


class PostalAddressForm(PostalAddress):
    """The same fields sent as multipart form fields beside the uploaded file."""

    model_config = ConfigDict(extra="ignore")
