"""Identity reveals: a police request to learn who a member is, approved by a second staff
member and read once."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import Base, sql_in
from shared.db import UUIDPrimaryKey, utcnow


class RevealStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    READ = "read"


class IdentityReveal(UUIDPrimaryKey, Base):
    """A police request to learn who a member is: a reason, a second staff member's approval,
    and one reading by the requester. Every step is also in the audit log."""

    __tablename__ = "identity_reveals"
    __table_args__ = (CheckConstraint(sql_in("status", RevealStatus), name="status_known"),)

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(10), default=RevealStatus.PENDING.value)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    approved_by: Mapped[uuid.UUID | None] = mapped_column()
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The approved reveal must be read before this; it can be read once.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
