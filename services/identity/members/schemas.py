"""What the members endpoints accept and return."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

from services.identity.models import EMAIL_MAX_LENGTH
from services.identity.passwords import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    check_password_policy,
)

VERIFICATION_TOKEN_MAX_LENGTH = 128


def normalise_email(value: object) -> object:
    """Lower-case and strip before validating, so one address is one account however typed."""
    if not isinstance(value, str):
        return value
    email = value.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValueError(f"an email address has at most {EMAIL_MAX_LENGTH} characters")
    return email


EmailAddress = Annotated[
    EmailStr,
    BeforeValidator(normalise_email),
    Field(examples=["sam@example.com"], json_schema_extra={"maxLength": EMAIL_MAX_LENGTH}),
]

NewPassword = Annotated[
    str,
    Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(check_password_policy),
]


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    password: NewPassword


class RegistrationAccepted(BaseModel):
    """The same whether or not the address already has an account."""

    status: Literal["pending_verification"] = "pending_verification"
    detail: str = "If this address can be registered, a verification link is on its way."


class EmailVerificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=VERIFICATION_TOKEN_MAX_LENGTH)


class EmailVerified(BaseModel):
    status: Literal["verified"] = "verified"


class MemberMe(BaseModel):
    member_id: uuid.UUID
    pseudonym: str
    roles: list[str]
    email_verified: bool
    verification_level: str
    organisation_id: uuid.UUID | None
    two_factor_enabled: bool


class PersonalDetails(BaseModel):
    """A member's name and phone number, kept encrypted; staff see them only through a
    two-person identity reveal. Null clears one."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100, examples=["Sam Taylor"])
    phone: str | None = Field(
        default=None,
        min_length=7,
        max_length=20,
        pattern=r"^\+?[0-9][0-9 ()-]{5,18}[0-9]$",
        examples=["+44 20 7946 0000"],
    )
