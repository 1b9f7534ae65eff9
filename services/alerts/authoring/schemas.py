"""What officers send and receive when they write and publish alerts."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.alerts import models
from services.alerts.models import (
    BODY_MAX_LENGTH,
    HEADLINE_MAX_LENGTH,
    MAX_TARGET_WARDS,
    WARD_CODE_LENGTH,
    AlertState,
    CrimeType,
    MsgType,
    Severity,
    Urgency,
)

# ONS GSS codes of electoral wards, such as E05013806.
WARD_CODE_PATTERN = r"^[A-Z][0-9]{8}$"
# A headline becomes an email subject and a push title: no line breaks or other control
# characters. A body may have line breaks and tabs, but no other control characters.
HEADLINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
BODY_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

WardCode = Annotated[
    str,
    StringConstraints(
        pattern=WARD_CODE_PATTERN, min_length=WARD_CODE_LENGTH, max_length=WARD_CODE_LENGTH
    ),
]


class AlertCreate(BaseModel):
    """A new alert. It starts as a draft; nobody receives it until it is published."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    headline: str = Field(
        min_length=1,
        max_length=HEADLINE_MAX_LENGTH,
        pattern=HEADLINE_PATTERN,
        description="One line that says what happened (CAP headline)",
    )
    body: str = Field(
        min_length=1,
        max_length=BODY_MAX_LENGTH,
        pattern=BODY_PATTERN,
        description="What residents should know and do (CAP description)",
    )
    crime_type: CrimeType = Field(description="What the alert is about; sent as its category")
    severity: Severity = Field(default=Severity.MODERATE, description="CAP severity")
    urgency: Urgency = Field(default=Urgency.EXPECTED, description="CAP urgency")
    target_ward_codes: list[WardCode] = Field(
        min_length=1,
        max_length=MAX_TARGET_WARDS,
        description="ONS codes of the wards whose residents should receive it; no repeats",
    )

    @field_validator("target_ward_codes")
    @classmethod
    def _codes_are_unique(cls, codes: list[str]) -> list[str]:
        repeated = sorted(code for code, count in Counter(codes).items() if count > 1)
        if repeated:
            raise ValueError(f"ward codes must not repeat: {', '.join(repeated[:10])}")
        return codes


class Alert(BaseModel):
    """An alert as officers see it."""

    id: uuid.UUID
    status: AlertState = Field(description="draft until published; published once sent out")
    msg_type: MsgType
    headline: str
    body: str
    crime_type: CrimeType
    severity: Severity
    urgency: Urgency
    target_ward_codes: list[str]
    author_id: uuid.UUID = Field(description="The member id of the officer who wrote it")
    author_pseudonym: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def from_model(cls, alert: models.Alert) -> Alert:
        return cls(
            id=alert.id,
            status=alert.state,
            msg_type=alert.msg_type,
            headline=alert.headline,
            body=alert.body,
            crime_type=alert.crime_type,
            severity=alert.severity,
            urgency=alert.urgency,
            target_ward_codes=list(alert.target_ward_codes),
            author_id=alert.author_id,
            author_pseudonym=alert.author_pseudonym,
            created_at=alert.created_at,
            updated_at=alert.updated_at,
            published_at=alert.published_at,
        )
