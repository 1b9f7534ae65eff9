"""The geo service's tables.

Boundaries are versioned: each import writes a whole new boundary set (boroughs and wards) and
makes it the current one, so readers never see a half-imported geography and an old set can be
compared with or restored. Subscriptions name a ward by its ONS code, which outlives any one set.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import ProcessedEventMixin
from shared.db import UUIDPrimaryKey, new_metadata, utcnow
from shared.outbox import OutboxMixin

CODE_LENGTH = 9  # ONS GSS codes: one letter and eight digits, e.g. E05013806
NAME_LENGTH = 200


class Base(DeclarativeBase):
    metadata = new_metadata()


class BoundarySet(UUIDPrimaryKey, Base):
    """One imported geography. Exactly one set is current at a time (a partial unique index)."""

    __tablename__ = "boundary_sets"
    __table_args__ = (
        Index(
            "uq_boundary_sets_is_current",
            "is_current",
            unique=True,
            postgresql_where=text("is_current"),
        ),
    )

    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    borough_count: Mapped[int] = mapped_column(Integer)
    ward_count: Mapped[int] = mapped_column(Integer)
    vertex_count: Mapped[int] = mapped_column(Integer)


class BoundingBox:
    """WGS84 bounds of a geometry, so that a later point or shape lookup can discard most
    areas with a cheap comparison before any polygon test."""

    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)


class Borough(BoundingBox, Base):
    __tablename__ = "boroughs"

    set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("boundary_sets.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Ward(BoundingBox, Base):
    __tablename__ = "wards"
    __table_args__ = (
        # A ward's borough must be in the same set: the database holds the hierarchy too.
        ForeignKeyConstraint(
            ["set_id", "borough_code"],
            ["boroughs.set_id", "boroughs.code"],
            ondelete="CASCADE",
        ),
        Index("ix_wards_set_id_borough_code", "set_id", "borough_code"),
    )

    set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("boundary_sets.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    borough_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Subscription(UUIDPrimaryKey, Base):
    """A member watches a ward. No foreign key to ``wards``: those rows belong to one boundary
    set, while a subscription must survive the import of the next one."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("member_id", "ward_code"),
        # Audience resolution filters by ward and reads only member_id: with both columns in
        # the index it is an index-only scan, already in member_id order within each ward.
        Index("ix_subscriptions_ward_code_member_id", "ward_code", "member_id"),
    )

    member_id: Mapped[uuid.UUID]
    ward_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertAudience(UUIDPrimaryKey, Base):
    """How one AlertPublished event was resolved. An alert that is updated is published again
    under a new event id, so there may be several rows per alert."""

    __tablename__ = "alert_audiences"

    alert_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    recipient_count: Mapped[int] = mapped_column(Integer)
    batch_count: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxMessage(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass
