"""Address and identity verification: letters' codes and uploaded proofs, the documents
(encrypted, kept until decided) and verifiers' identity checks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import WARD_CODE_LENGTH, Base, sql_in
from shared.db import UUIDPrimaryKey, utcnow


class AddressMethod(StrEnum):
    LETTER = "letter"
    PROOF = "proof"


class AddressVerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REFUSED = "refused"
    # A letter's code expired or its tries ran out: a new letter is needed.
    EXPIRED = "expired"
    # The member gave another address before this one was decided.
    SUPERSEDED = "superseded"


class DocumentPurpose(StrEnum):
    PROOF_OF_ADDRESS = "proof_of_address"
    IDENTITY_DOCUMENT = "identity_document"


class IdentityDocumentType(StrEnum):
    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    NATIONAL_IDENTITY_CARD = "national_identity_card"
    RESIDENCE_PERMIT = "residence_permit"


class CheckOutcome(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    FAIL = "fail"


class VerificationDocument(UUIDPrimaryKey, Base):
    """An uploaded proof of address or identity document, AES-GCM encrypted, kept only until
    a verifier decides on it: the decision stays, the file is deleted."""

    __tablename__ = "verification_documents"
    __table_args__ = (CheckConstraint(sql_in("purpose", DocumentPurpose), name="purpose_known"),)

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class AddressVerification(UUIDPrimaryKey, Base):
    """One attempt to verify a member's postal address, by a letter's one-time code or by a
    verifier looking at an uploaded proof. The address is encrypted; the code kept as a hash."""

    __tablename__ = "address_verifications"
    __table_args__ = (
        CheckConstraint(sql_in("method", AddressMethod), name="method_known"),
        CheckConstraint(sql_in("status", AddressVerificationStatus), name="status_known"),
        # One open attempt per member: a new address supersedes the pending one.
        Index(
            "uq_address_verifications_pending_member",
            "member_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default=AddressVerificationStatus.PENDING.value)
    # Recipient name, address lines and postcode as encrypted JSON.
    address_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    ward_code: Mapped[str] = mapped_column(String(WARD_CODE_LENGTH))
    h3_cell: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("verification_documents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None] = mapped_column()
    refusal_reason: Mapped[str | None] = mapped_column(String(500))


class IdentityCheck(UUIDPrimaryKey, Base):
    """A verifier's record of a document check: what was seen and the outcome, never the
    document itself."""

    __tablename__ = "identity_checks"
    __table_args__ = (
        CheckConstraint(sql_in("document_type", IdentityDocumentType), name="document_type_known"),
        CheckConstraint(sql_in("outcome", CheckOutcome), name="outcome_known"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    document_type: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(10))
    verifier_id: Mapped[uuid.UUID] = mapped_column()
    checked_on: Mapped[date] = mapped_column(Date)
    # Whether an uploaded document was looked at (and then deleted).
    document_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
