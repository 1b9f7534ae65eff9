"""What the account endpoints (password reset, two-factor) accept and return."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.identity.members.schemas import EmailAddress, NewPassword

RESET_TOKEN_MAX_LENGTH = 128


class PasswordResetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress


class PasswordResetAccepted(BaseModel):
    """The same whether or not the address has an account."""

    status: Literal["accepted"] = "accepted"
    detail: str = "If this address has an account, a password-reset link is on its way."


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=RESET_TOKEN_MAX_LENGTH)
    password: NewPassword


class PasswordChanged(BaseModel):
    status: Literal["password_changed"] = "password_changed"


class TotpEnrolment(BaseModel):
    secret: str = Field(description="Base32 secret, for typing into an authenticator app")
    otpauth_uri: str = Field(description="The same secret as an otpauth:// URI (for a QR code)")


class TotpConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^\d{6}$")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="One-time codes for when the phone is lost; shown only now"
    )


class TotpReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)
