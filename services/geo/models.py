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
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import ProcessedEventMixin
from shared.db import UUIDPrimaryKey, new_metadata, utcnow
from shared.exports import ExportPartMixin
from shared.idempotency import IdempotencyKeyMixin
from shared.members import SuspendedMemberMixin
from shared.outbox import OutboxMixin

CODE_LENGTH = 9  # ONS GSS codes: one letter and eight digits, e.g. E05013806
NAME_LENGTH = 200
LABEL_LENGTH = 100
CATEGORY_LENGTH = 32
SUBSCRIPTION_KINDS = ("home", "ward", "neighbours", "circle", "polygon")


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


class WardNeighbour(Base):
    """Two wards of one set that touch (or meet at a corner), computed on import. Stored in
    both directions, so that "the neighbours of W" is one index range."""

    __tablename__ = "ward_neighbours"
    __table_args__ = (
        ForeignKeyConstraint(
            ["set_id", "ward_code"], ["wards.set_id", "wards.code"], ondelete="CASCADE"
        ),
    )

    set_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ward_code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    neighbour_code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)


class Subscription(UUIDPrimaryKey, Base):
    """One area a member watches, with its filters. No foreign key to ``wards``: those rows
    belong to one boundary set, while a subscription must survive the import of the next one.

    ``kind`` says which columns describe the area: ``home``, ``ward`` and ``neighbours`` name
    a ward; ``circle`` has a centre and radius; ``polygon`` has a GeoJSON Polygon. The rows
    that resolution reads are in ``watched_wards`` and ``area_cells``, kept in step with this
    one by the subscriptions service.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("kind IN ('home', 'ward', 'neighbours', 'circle', 'polygon')", name="kind"),
        # One subscription per member, kind and ward (a home ward may also be watched with its
        # neighbours); one home ward per member.
        Index(
            "uq_subscriptions_member_kind_ward",
            "member_id",
            "kind",
            "ward_code",
            unique=True,
            postgresql_where=text("ward_code IS NOT NULL"),
        ),
        Index(
            "uq_subscriptions_member_home",
            "member_id",
            unique=True,
            postgresql_where=text("kind = 'home'"),
        ),
        Index("ix_subscriptions_member_id", "member_id"),
    )

    member_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16), default="ward")
    ward_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    center_lat: Mapped[float | None] = mapped_column(Float)
    center_lon: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    categories: Mapped[list[str] | None] = mapped_column(ARRAY(String(CATEGORY_LENGTH)))
    # The categories as bits (services.geo.targeting.filters), copied into the index rows.
    categories_mask: Mapped[int | None] = mapped_column(Integer)
    min_severity: Mapped[int] = mapped_column(SmallInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MemberNumber(Base):
    """A small dense number per member, for the resolution indexes: audiences are unions of
    millions of index rows, and de-duplicating 4-byte numbers (a bitmap in numpy) is far
    cheaper than hashing and sorting 16-byte UUIDs. Numbers are never reused or changed, so a
    process may cache the mapping back to member ids (services.geo.audience.members)."""

    __tablename__ = "member_numbers"

    member_no: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(unique=True)


class WatchedWard(Base):
    """The ward-code index: every ward a subscription's area touches. A ward or home
    subscription has one row, a neighbours subscription its ward and each neighbour, a circle
    or polygon each ward it intersects in the current set (``by_geometry``; recomputed on
    import). The filters are copied here so that resolution reads this table alone, with an
    index-only scan of 4-byte member numbers within each ward."""

    __tablename__ = "watched_wards"
    __table_args__ = (
        Index(
            "ix_watched_wards_ward_code_member_no",
            "ward_code",
            "member_no",
            postgresql_include=["by_geometry", "min_severity", "categories_mask"],
        ),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    ward_code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    member_id: Mapped[uuid.UUID]
    member_no: Mapped[int] = mapped_column(Integer)
    by_geometry: Mapped[bool] = mapped_column(Boolean, default=False)
    min_severity: Mapped[int] = mapped_column(SmallInteger)
    categories_mask: Mapped[int | None] = mapped_column(Integer)


class AreaCell(Base):
    """The H3 index of circles and drawn polygons: the compacted cells that cover each area,
    ``interior`` when the whole cell lies inside it. ``key`` is the cell's first descendant
    at the index resolution, so that every cell under a target cell is one B-tree range, and
    (``key``, ``res``) names a cell exactly (see services.geo.targeting.cells).

    A circle's centre and radius are copied into its rows and the index covers every column
    that resolution reads, so a target's candidates come from an index-only range scan and
    the exact circle test needs no second lookup."""

    __tablename__ = "area_cells"
    __table_args__ = (
        Index(
            "ix_area_cells_key_res",
            "key",
            "res",
            postgresql_include=[
                "interior",
                "subscription_id",
                "member_no",
                "min_severity",
                "categories_mask",
                "center_lat",
                "center_lon",
                "radius_m",
            ],
        ),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    res: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    interior: Mapped[bool] = mapped_column(Boolean)
    member_id: Mapped[uuid.UUID]
    member_no: Mapped[int] = mapped_column(Integer)
    min_severity: Mapped[int] = mapped_column(SmallInteger)
    categories_mask: Mapped[int | None] = mapped_column(Integer)
    center_lat: Mapped[float | None] = mapped_column(Float)
    center_lon: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)


class AlertRecipientSet(Base):
    """Who an alert reached: its member ids, sorted and packed 16 bytes each (16 MB for a
    million), so that its updates and cancellations reach exactly the same people."""

    __tablename__ = "alert_recipient_sets"

    alert_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    boundary_set_id: Mapped[uuid.UUID | None]
    recipient_count: Mapped[int] = mapped_column(Integer)
    members: Mapped[bytes] = mapped_column(LargeBinary)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertAudience(UUIDPrimaryKey, Base):
    """How one AlertPublished event was resolved. An alert that is updated is published again
    under a new event id, so there may be several rows per alert. ``resolve_ms`` is finding
    the audience; ``duration_ms`` also counts staging its batches."""

    __tablename__ = "alert_audiences"

    alert_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    msg_type: Mapped[str] = mapped_column(String(16), default="Alert")
    boundary_set_id: Mapped[uuid.UUID | None]
    reused_recipient_set: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient_count: Mapped[int] = mapped_column(Integer)
    batch_count: Mapped[int] = mapped_column(Integer)
    resolve_ms: Mapped[float] = mapped_column(Float, default=0.0)
    duration_ms: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SuspendedMember(SuspendedMemberMixin, Base):
    """A member identity suspended (``member.suspended``): left out of audience previews until
    ``member.reinstated``. Resolution still finds them, so that the alert's stored recipient
    set (which its Updates reach) is right once they are reinstated; dispatch sends them
    nothing meanwhile."""


class MemberExportPart(ExportPartMixin, Base):
    """Geo's part of a member's export (``member.export_requested``): their watched areas,
    kept a few days for them to download (``shared.exports``)."""


class OutboxMessage(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Claimed ``Idempotency-Key`` values and the answers given (``shared.idempotency``)."""
