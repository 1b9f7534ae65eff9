"""What a member's account keeps besides the member row: the emailed verification and
password-reset links, TOTP recovery codes, and how many emails each address was sent in the
current window. Tokens and codes are kept as hashes only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import Base
from shared.db import UUIDPrimaryKey, utcnow
from shared.request_limits import RequestCountMixin


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


class PasswordReset(UUIDPrimaryKey, Base):
    """One emailed password-reset link; only the token's SHA-256 is kept."""

    __tablename__ = "password_resets"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryCode(UUIDPrimaryKey, Base):
    """A one-time TOTP recovery code (SHA-256 only), shown once at enrolment."""

    __tablename__ = "recovery_codes"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecipientSendCount(RequestCountMixin, Base):
    """How many emails of one kind were asked for one address in the current window: past the
    limit, no more are sent until the window ends. Keys hold a keyed hash, never the address."""

    __tablename__ = "recipient_send_counts"
