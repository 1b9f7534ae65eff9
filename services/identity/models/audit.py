"""The hash-chained, append-only audit log and the anchor its retention purge leaves."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, SmallInteger, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import Base


class AuditEntry(Base):
    """One staff or admin action. Rows are never updated, and deleted only oldest first by the
    retention purge (a trigger refuses anything else); each row's hash covers the previous row's
    hash, so any edit breaks the chain."""

    __tablename__ = "audit_log"

    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditAnchor(Base):
    """Where the audit chain starts once the retention purge has deleted its oldest entries: the
    last deleted entry's position and hash. The oldest kept entry must chain onto this hash, so
    entries deleted any other way still show as a broken link. One row, moved by each purge."""

    __tablename__ = "audit_log_anchor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    position: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
