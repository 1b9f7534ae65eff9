"""What members send to register a phone number or an app installation, and what they see."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.dispatch.models import ADDRESS_MAX_LENGTH

# A UK mobile: 07 and nine digits, written nationally or with +44 / 0044.
UK_MOBILE = re.compile(r"^(?:\+44|0044|0)(7\d{9})$")
CODE_LENGTH = 6


def normalise_uk_mobile(value: str) -> str:
    """``07700 900123`` or ``+44 7700 900123`` -> ``+447700900123`` (E.164)."""
    compact = re.sub(r"[\s\-()]", "", value)
    match = UK_MOBILE.match(compact)
    if match is None:
        raise ValueError("must be a UK mobile number, such as 07700 900123")
    return f"+44{match.group(1)}"


class PhoneNumberIn(BaseModel):
    """A UK mobile number to receive alerts on by SMS."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"phone_number": "07700 900123"}]})

    phone_number: str = Field(
        min_length=10, max_length=20, description="A UK mobile number (07..., +447...)"
    )

    @field_validator("phone_number")
    @classmethod
    def _is_uk_mobile(cls, value: str) -> str:
        return normalise_uk_mobile(value)


class PhoneConfirmationStarted(BaseModel):
    """A code is on its way to the number."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "phone_number": "+44*******123",
                    "expires_at": "2026-11-23T12:10:00Z",
                    "tries": 5,
                }
            ]
        }
    )

    phone_number: str = Field(description="The number, masked")
    expires_at: datetime = Field(description="The code works until then")
    tries: int = Field(description="Wrong codes allowed before a new one must be asked for")


class ConfirmationCodeIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "482913"}]})

    code: str = Field(
        min_length=CODE_LENGTH,
        max_length=CODE_LENGTH,
        pattern=r"^\d{6}$",
        description="The six digits the SMS carried",
    )


class FcmRegistrationIn(BaseModel):
    """The registration token the Firebase SDK gave the member's app installation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"token": "dQw4w9WgXcQ:APA91bH-example-registration-token"}]
        }
    )

    token: str = Field(
        min_length=20,
        max_length=ADDRESS_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9_:\-.]+$",
        description="The FCM registration token",
    )
