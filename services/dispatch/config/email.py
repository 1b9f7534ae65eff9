"""Email: the SMTP server every email is handed to, the From, and how fast the deployment
may send (``DISPATCH_SMTP_*``, ``DISPATCH_EMAIL_*``)."""

from __future__ import annotations

from email.utils import parseaddr

from pydantic import BaseModel, Field, SecretStr, field_validator

MAX_SMTP_TIMEOUT_S = 20.0


class EmailSettings(BaseModel):
    smtp_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=253,
        description="The SMTP server (mail relay) dispatch hands every email to",
    )
    smtp_port: int = Field(default=1025, ge=1, le=65535, description="Port of the SMTP server")
    smtp_username: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="SMTP AUTH user name; unset: no authentication",
    )
    smtp_password: SecretStr | None = Field(
        default=None,
        max_length=256,
        description="SMTP AUTH password (with DISPATCH_SMTP_USERNAME)",
    )
    smtp_starttls: bool = Field(
        default=False,
        description="Upgrade each SMTP connection with STARTTLS, and fail if the server can't",
    )
    smtp_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_SMTP_TIMEOUT_S,
        description="Longest time one email's hand-over to the SMTP server may take, in seconds",
    )
    email_from: str = Field(
        default="Tawny alerts <alerts@tawny.london>",
        min_length=3,
        max_length=320,
        description="The From of every email, as a name and address or an address alone",
    )
    send_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Emails one dispatch process hands over at once (so the most SMTP connections)",
    )
    email_rate_per_s: float = Field(
        default=0.0,
        ge=0,
        le=100_000,
        description="Alert emails per second the whole deployment may hand to the SMTP "
        "provider, however many dispatchers run (a token bucket shared through PostgreSQL); "
        "0: no limit",
    )
    email_rate_burst: int = Field(
        default=50, ge=1, le=100_000, description="Token bucket size for email_rate_per_s"
    )

    @field_validator("email_from")
    @classmethod
    def _is_one_address(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must be one line")
        _name, address = parseaddr(value)
        local, at, domain = address.rpartition("@")
        if not (local and at and domain):
            raise ValueError("must be an email address, optionally with a name: Name <a@b.c>")
        return value

    @property
    def smtp_password_value(self) -> str | None:
        if self.smtp_password is None or not self.smtp_password.get_secret_value():
            return None
        return self.smtp_password.get_secret_value()

    def _check_email_for_production(self) -> None:
        if self.smtp_username is not None and self.smtp_password_value is None:
            raise ValueError("DISPATCH_SMTP_PASSWORD must be set with DISPATCH_SMTP_USERNAME")
        if self.smtp_username is not None and not self.smtp_starttls:
            raise ValueError("SMTP credentials are sent only over STARTTLS in production")
