"""An alert's pictures, stored re-encoded without the metadata they came with."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.alerts.models.base import Base
from shared.db import utcnow

IMAGE_DESCRIPTION_MAX_LENGTH = 200
MAX_IMAGES_PER_ALERT = 3


class ImageBlobMixin:
    """An uploaded picture as stored: re-encoded, so none of what the uploader's camera or
    editor wrote into the file (EXIF with GPS, XMP, comments) survives. ``sha1`` is what CAP's
    ``resource/digest`` names."""

    mime_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha1: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertImage(ImageBlobMixin, Base):
    """One of an alert's pictures (up to three), numbered from 1 in the order shown."""

    __tablename__ = "alert_images"

    alert_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(String(IMAGE_DESCRIPTION_MAX_LENGTH))

    __table_args__ = (
        CheckConstraint(
            f"position BETWEEN 1 AND {MAX_IMAGES_PER_ALERT}", name="alert_image_position"
        ),
    )
