"""What members send back about an alert, and what staff see of it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.alerts import models
from services.alerts.authoring.schemas import BODY_PATTERN
from services.alerts.models import REPLY_MAX_LENGTH, MsgType


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
    has_photo: bool = Field(
        default=False, description="A photo is at /alerts/{alert_id}/replies/{id}/photo"
    )

    @classmethod
    def from_model(cls, reply: models.Reply, *, has_photo: bool = False) -> ReplyOut:
        return cls(
            id=reply.id,
            alert_id=reply.alert_id,
            member_pseudonym=reply.member_pseudonym,
            text=reply.text,
            created_at=reply.created_at,
            answer=reply.answer,
            answered_by_pseudonym=reply.answered_by_pseudonym,
            answered_at=reply.answered_at,
            has_photo=has_photo,
        )


class ChannelDelivery(BaseModel):
    """One channel's deliveries of one message, as dispatch last reported them."""

    recipients: int
    sent: int = Field(description="Handed to the provider")
    delivered: int = Field(description="The provider confirmed arrival")
    failed: int
    as_of: datetime = Field(description="When dispatch counted")


class MessageDelivery(BaseModel):
    """Delivery of one CAP message of the alert: the original, an Update or the Cancel."""

    message_id: uuid.UUID
    msg_type: MsgType
    channels: dict[str, ChannelDelivery]


class AlertStats(BaseModel):
    """An alert's reception: deliveries per channel (from dispatch's reports, a few seconds
    behind), replies and usefulness marks."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "alert_id": "7f0c2a52-3c1e-4a5e-9a7b-2f4d8f7e1b10",
                    "channels": {
                        "email": {
                            "recipients": 1200,
                            "sent": 1190,
                            "delivered": 1150,
                            "failed": 10,
                            "as_of": "2026-11-23T12:05:00+00:00",
                        }
                    },
                    "messages": [],
                    "useful": 40,
                    "not_useful": 3,
                    "replies": 7,
                    "replies_answered": 5,
                    "follow_ups": 1,
                }
            ]
        }
    )

    alert_id: uuid.UUID
    channels: dict[str, ChannelDelivery] = Field(
        description="The original message's deliveries per channel (email, webpush, sms, ...)"
    )
    messages: list[MessageDelivery] = Field(
        description="Every message that went out (original first, then its follow-ups, which "
        "reach the same people) with its own deliveries per channel"
    )
    useful: int
    not_useful: int
    replies: int
    replies_answered: int
    follow_ups: int = Field(description="Updates and Cancels issued for it")
