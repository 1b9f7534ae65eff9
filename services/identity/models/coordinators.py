"""Applications to coordinate a Neighbourhood Watch scheme, and their police vetting."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import Base, sql_in
from shared.db import Timestamps, UUIDPrimaryKey


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    LAPSED = "lapsed"


class CoordinatorApplication(UUIDPrimaryKey, Timestamps, Base):
    """A member's application to coordinate a Neighbourhood Watch scheme, and its vetting."""

    __tablename__ = "coordinator_applications"
    __table_args__ = (
        CheckConstraint(sql_in("status", ApplicationStatus), name="status_known"),
        Index(
            "uq_coordinator_applications_open",
            "member_id",
            "scheme_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'approved')"),
        ),
        Index(
            "ix_coordinator_applications_vetting_due",
            "vetting_expires_on",
            postgresql_where=text("status = 'approved'"),
        ),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    scheme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    statement: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default=ApplicationStatus.PENDING.value)
    decided_by: Mapped[uuid.UUID | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    vetting_reference: Mapped[str | None] = mapped_column(String(64))
    vetting_expires_on: Mapped[date | None] = mapped_column(Date)
    refusal_reason: Mapped[str | None] = mapped_column(String(500))
    lapsed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
