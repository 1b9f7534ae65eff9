"""Alerts' part of a member's export (``shared.exports.ExportPart``'s ``data``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class ExportedReply(BaseModel):
    alert_id: uuid.UUID
    text: str
    written_at: datetime
    has_photo: bool = Field(description="Photos are not copied into the export")
    answer: str | None
    answered_at: datetime | None


class ExportedMark(BaseModel):
    alert_id: uuid.UUID
    useful: bool
    marked_at: datetime


class AlertsExport(BaseModel):
    """What alerts holds about the member: their replies (with staff's answers) and their
    usefulness marks, and whether identity suspended them."""

    replies: list[ExportedReply]
    usefulness_marks: list[ExportedMark]
    suspended_at: datetime | None
