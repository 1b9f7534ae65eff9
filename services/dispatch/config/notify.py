"""SMS and letters through a GOV.UK Notify-compatible API: its URL, key and templates, its
delivery receipts, how fast and how many at once, and the SMS rules (alert length, phone
confirmation codes) (``DISPATCH_NOTIFY_*``, ``DISPATCH_SMS_*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from services.dispatch.config.email import MAX_SMTP_TIMEOUT_S

# Template ids the local Notify sink accepts; a real Notify service has its own.
DEV_SMS_TEMPLATE_ID = "2c0d3b4e-2f0a-4a55-9d52-0d6f3d6a7e01"
DEV_LETTER_TEMPLATE_ID = "7d4b8e1a-5c3f-4a2e-8b6d-1e9f0c2a3b44"


class NotifySettings(BaseModel):
    notify_base_url: str = Field(
        default="https://api.notifications.service.gov.uk",
        min_length=8,
        max_length=300,
        description="Base URL of the GOV.UK Notify-compatible API for SMS and letters",
    )
    notify_api_key: SecretStr | None = Field(
        default=None,
        max_length=300,
        description="Notify API key, {key_name}-{service_id}-{secret}; unset: no SMS or letters",
    )
    notify_sms_template_id: str = Field(
        default=DEV_SMS_TEMPLATE_ID,
        min_length=36,
        max_length=36,
        description="Notify SMS template whose whole text is ((body))",
    )
    notify_letter_template_id: str = Field(
        default=DEV_LETTER_TEMPLATE_ID,
        min_length=36,
        max_length=36,
        description="Notify letter template for address-verification codes, with ((name)), "
        "((code)) and ((expires))",
    )
    notify_concurrency: int = Field(
        default=8, ge=1, le=200, description="Notify requests one process has in flight at once"
    )
    notify_rate_per_s: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="Notify requests per second the whole deployment may make (a token bucket "
        "shared through PostgreSQL, notify_concurrency tokens deep; Notify allows 3,000 a "
        "minute per service); 0: no limit",
    )
    notify_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_SMTP_TIMEOUT_S,
        description="Longest time one Notify request may take, in seconds",
    )
    notify_receipt_token: SecretStr | None = Field(
        default=None,
        max_length=300,
        description="Bearer token Notify's delivery-receipt callbacks must carry; unset: "
        "POST /receipts/notify refuses every callback",
    )
    sms_max_segments: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Longest alert SMS in segments (160 GSM-7 or 70 UCS-2 characters, fewer "
        "when concatenated); longer text is shortened",
    )
    sms_code_ttl_s: float = Field(
        default=600.0,
        ge=60,
        le=3600,
        description="How long a phone number's confirmation code is valid, seconds",
    )
    sms_code_max_tries: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Wrong confirmation codes allowed before the member must ask for a new one",
    )
    sms_code_resend_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="Shortest time between two confirmation codes for one member, seconds",
    )
    sms_codes_per_number: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Confirmation codes one phone number may be sent per "
        "sms_code_limit_window_min, whichever members ask; past it the answer is the same but "
        "nothing is sent",
    )
    sms_code_limit_window_min: int = Field(
        default=60,
        ge=1,
        le=10_080,
        description="The window of sms_codes_per_number, minutes",
    )

    @property
    def notify_api_key_value(self) -> str | None:
        if self.notify_api_key is None or not self.notify_api_key.get_secret_value():
            return None
        return self.notify_api_key.get_secret_value()

    @property
    def notify_receipt_token_value(self) -> str | None:
        if self.notify_receipt_token is None or not self.notify_receipt_token.get_secret_value():
            return None
        return self.notify_receipt_token.get_secret_value()

    def _check_notify_for_production(self) -> None:
        if not self.notify_base_url.startswith("https://"):
            raise ValueError("DISPATCH_NOTIFY_BASE_URL must be an https URL in production")
        if self.notify_api_key_value is not None and (
            self.notify_sms_template_id == DEV_SMS_TEMPLATE_ID
            or self.notify_letter_template_id == DEV_LETTER_TEMPLATE_ID
        ):
            raise ValueError(
                "DISPATCH_NOTIFY_SMS_TEMPLATE_ID and DISPATCH_NOTIFY_LETTER_TEMPLATE_ID must name "
                "the Notify service's own templates in production"
            )
