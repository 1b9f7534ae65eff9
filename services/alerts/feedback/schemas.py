"""What members send back about an alert, and what staff see of it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.alerts import models
from services.alerts.authoring.schemas import BODY_PATTERN
from services.alerts.models import REPLY_MAX_LENGTH


class UsefulnessMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    useful: bool = Field(description="Whether the alert was useful to you")


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=REPLY_MAX_LENGTH, pattern=BODY_PATTERN)


class ReplyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=REPLY_MAX_LENGTH, pattern=BODY_PATTERN)


class ReplyOut(BaseModel):
    """A reply as the authoring team sees it: the member's pseudonym, never who they are."""

    id: uuid.UUID
    alert_id: uuid.UUID
    member_pseudonym: str
    text: str
    created_at: datetime
    answer: str | None
    answered_by_pseudonym: str | None
    answered_at: datetime | None

    @classmethod
    def from_model(cls, reply: models.Reply) -> ReplyOut:
        return cls(
            id=reply.id,
            alert_id=reply.alert_id,
            member_pseudonym=reply.member_pseudonym,
            text=reply.text,
            created_at=reply.created_at,
            answer=reply.answer,
            answered_by_pseudonym=reply.answered_by_pseudonym,
            answered_at=reply.answered_at,
        )


class AlertStats(BaseModel):
    """What alerts itself knows about an alert's reception. Delivery counts per channel come
    from dispatch's status events, which do not exist yet."""

    alert_id: uuid.UUID
    useful: int
    not_useful: int
    replies: int
    replies_answered: int
    follow_ups: int = Field(description="Updates and Cancels issued for it")
