"""What members say about an alert: usefulness marks, replies (with staff's answers) and a
reply's photo."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.alerts.models.base import PSEUDONYM_MAX_LENGTH, Base
from services.alerts.models.images import ImageBlobMixin
from shared.db import Timestamps, UUIDPrimaryKey

REPLY_MAX_LENGTH = 1000


class Usefulness(Timestamps, Base):
    """One member's mark on one alert: useful or not. Marking again replaces the mark."""

    __tablename__ = "alert_usefulness"

    alert_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    useful: Mapped[bool] = mapped_column(Boolean)


class Reply(UUIDPrimaryKey, Timestamps, Base):
    """A member's reply to an alert, for the authoring team's inbox, and staff's answer.
    The member appears by id and pseudonym only."""

    __tablename__ = "alert_replies"

    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("alerts.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    answered_by_pseudonym: Mapped[str | None] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            f"char_length(text) BETWEEN 1 AND {REPLY_MAX_LENGTH}", name="reply_text_length"
        ),
        CheckConstraint(
            f"answer IS NULL OR char_length(answer) BETWEEN 1 AND {REPLY_MAX_LENGTH}",
            name="reply_answer_length",
        ),
        Index("ix_alert_replies_alert_id_created_at", "alert_id", "created_at"),
        # The per-member rate limit counts a member's recent replies.
        Index("ix_alert_replies_member_id_created_at", "member_id", "created_at"),
    )


class ReplyPhoto(ImageBlobMixin, Base):
    """The photo a member attached to their reply (at most one)."""

    __tablename__ = "alert_reply_photos"

    reply_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_replies.id", ondelete="CASCADE"), primary_key=True
    )
