"""Identity's tables: members, their email-verification tokens, the token-signing keys, and
the outbox its events leave through."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Timestamps, UUIDPrimaryKey, new_metadata, utcnow
from shared.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = new_metadata()


class Role(StrEnum):
    RESIDENT = "resident"
    OFFICER = "officer"
    ADMIN = "admin"


EMAIL_MAX_LENGTH = 254
PSEUDONYM_MAX_LENGTH = 40


class Member(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(
            "cardinality(roles) >= 1 AND roles <@ ARRAY['resident', 'officer', 'admin']::varchar[]",
            name="roles_known",
        ),
    )

    # Stored lower-cased and stripped, so a plain unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_MAX_LENGTH), unique=True)
    roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(20)), default=lambda: [Role.RESIDENT.value]
    )
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class EmailVerification(UUIDPrimaryKey, Base):
    """One emailed link. Only the token's SHA-256 is kept, so a database leak cannot verify.

    The password chosen with the registration that sent this link travels with it and becomes
    the member's password when the link is used: whoever pre-registers someone else's address
    cannot keep their own password on the account once its owner verifies it.
    """

    __tablename__ = "email_verifications"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """An Ed25519 key that signs access tokens; its public half is served as a JWK."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class OutboxMessage(OutboxMixin, Base):
    pass
