"""Settings of the dispatch service, read from ``DISPATCH_*`` variables (and the platform's own)."""

from __future__ import annotations

import base64
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServiceSettings

MAX_SMTP_TIMEOUT_S = 20.0
# Signs unsubscribe links in development and tests only; production refuses to start without
# its own key.
DEV_UNSUBSCRIBE_KEY = "tawny-development-unsubscribe-key-not-secret"
UNSUBSCRIBE_KEY_MIN_LENGTH = 32
MAX_WEBPUSH_TIMEOUT_S = 20.0
# RFC 8030 lets a push service cap TTL; 28 days is the longest the big ones keep a message.
MAX_WEBPUSH_TTL_S = 28 * 86400
# Room for recording a chunk's results after its last hand-over, before the sweeper may take
# its rows back: see ``services.dispatch.deliveries.worker``.
RECORDING_MARGIN_S = 10.0
# Template ids the local Notify sink accepts; a real Notify service has its own.
DEV_SMS_TEMPLATE_ID = "2c0d3b4e-2f0a-4a55-9d52-0d6f3d6a7e01"
DEV_LETTER_TEMPLATE_ID = "7d4b8e1a-5c3f-4a2e-8b6d-1e9f0c2a3b44"


DEFAULT_DEVICES_PER_CHANNEL = 10


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/dispatch",
        description="The dispatch service's own PostgreSQL database",
    )
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
    run_consumers: bool = Field(
        default=True,
        description="Consume Kafka events in this process; false makes a send-only process that "
        "drains the deliveries other dispatchers recorded",
    )
    worker_tasks: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Delivery workers per process, each claiming and sending one chunk at a time",
    )
    claim_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Deliveries a worker claims at once and holds under its process's lease "
        "until their outcomes are written",
    )
    record_slice: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="A worker hands a chunk to its channel in slices of this many recipients, "
        "all under way at once, and records each slice's accepted messages as it ends: a "
        "dispatcher that dies resends only the messages on the wire and the slices under way",
    )
    poll_interval_s: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="How long a worker waits before looking for deliveries again after a claim "
        "that was not full, seconds (one that found none backs off to idle_poll_max_s)",
    )
    idle_poll_max_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="The longest an idle worker waits between looks for deliveries (its wait "
        "doubles from poll_interval_s while it finds none; new rows wake it at once through "
        "PostgreSQL LISTEN/NOTIFY), seconds",
    )
    send_budget_s: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="A chunk starts no new hand-over after this many seconds, so it ends in time",
    )
    sending_timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="A backstop: a delivery held 'sending' this long is sent again even while "
        "its process renews the lease; must exceed send_budget_s + the longest channel "
        "timeout + 10",
    )
    lease_s: float = Field(
        default=10.0,
        ge=1,
        le=600,
        description="How long a claim on deliveries lasts unless its process renews it: a "
        "dispatcher that dies has its deliveries sent again within lease_s + sweep_interval_s",
    )
    lease_renew_interval_s: float = Field(
        default=3.0,
        gt=0,
        le=300,
        description="How often a dispatcher renews the leases of the deliveries it holds; at "
        "most a third of lease_s, so one late renewal never lets a lease lapse",
    )
    sweep_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="How often each process resumes stuck deliveries and pending ones that "
        "became deliverable, seconds",
    )
    max_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="Attempts at a delivery before a temporary failure becomes 'failed'",
    )
    retry_base_delay_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="First retry delay after a temporary failure; doubled per attempt, each "
        "delay drawn between half and all of it (jitter), seconds",
    )
    retry_max_delay_s: float = Field(
        default=1800.0,
        gt=0,
        le=86400,
        description="Longest retry delay, seconds",
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
    pending_max_age_s: float = Field(
        default=86400.0,
        gt=0,
        le=30 * 86400,
        description="A member who verifies an address after an alert without an expiry time "
        "still gets it if it was sent less than this long ago, seconds",
    )

    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        max_length=200,
        description="Where members reach Tawny (the gateway); unsubscribe links start with it",
    )
    unsubscribe_key: SecretStr | None = Field(
        default=None,
        min_length=UNSUBSCRIBE_KEY_MIN_LENGTH,
        max_length=256,
        description="HMAC key that signs one-click unsubscribe links; required in production "
        "(a development key is used otherwise). Changing it voids the links already sent",
    )
    digest_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How often each process looks for daily digests that are due, seconds",
    )
    digest_claim_size: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Held deliveries one digest run takes at once (their members' digests are "
        "sent before it takes more)",
    )
    alert_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Alerts' content and finished deliveries are deleted this many days after "
        "the alert came, once none of its deliveries is still to be sent",
    )
    purge_interval_s: float = Field(
        default=3600.0,
        gt=0,
        le=86400,
        description="How often each process deletes alerts past alert_retention_days, seconds",
    )

    @field_validator("public_base_url")
    @classmethod
    def _http_url_without_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    # --- mobile push (FCM HTTP v1) --------------------------------------------------------
    fcm_base_url: str = Field(
        default="https://fcm.googleapis.com",
        min_length=8,
        max_length=300,
        description="Base URL of the FCM HTTP v1 API (messages:send lives under /v1/projects/)",
    )
    fcm_token_url: str = Field(
        default="https://oauth2.googleapis.com/token",
        min_length=8,
        max_length=300,
        description="OAuth2 token endpoint that exchanges the service account's signed JWT for "
        "an access token",
    )
    fcm_project_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The Firebase project id; unset (or no service-account key): no mobile push",
    )
    fcm_service_account_file: Path | None = Field(
        default=None,
        description="Path of the Google service-account key (JSON) that signs FCM token requests",
    )
    fcm_service_account_json: SecretStr | None = Field(
        default=None,
        max_length=10_000,
        description="The service-account key's JSON itself, instead of a file",
    )
    fcm_concurrency: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="FCM requests one process has in flight at once (multiplexed over HTTP/2)",
    )
    fcm_rate_per_s: float = Field(
        default=0.0,
        ge=0,
        le=100_000,
        description="FCM requests per second the whole deployment may make (a token bucket "
        "shared through PostgreSQL, fcm_concurrency tokens deep); 0: no limit",
    )
    fcm_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_SMTP_TIMEOUT_S,
        description="Longest time one FCM request (or token request) may take, in seconds",
    )

    # --- SMS and letters (GOV.UK Notify-compatible) ----------------------------------------
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

    # --- delivery status reports -----------------------------------------------------------
    stats_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often dispatch publishes per-alert delivery totals "
        "(delivery.stats_reported) for alerts whose deliveries changed, seconds",
    )

    backlog_report_interval_s: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description="How often each process counts the deliveries due and in flight per channel "
        "for its Prometheus gauges (every process reports the deployment's totals), seconds",
    )

    webpush_vapid_private_key: SecretStr | None = Field(
        default=None,
        max_length=512,
        description="The VAPID (RFC 8292) signing key of web push: a P-256 private key as "
        "base64url (32 raw bytes, or DER). Unset outside production: a new key per process, so "
        "set one shared key when several dispatchers run (the dev stack does)",
    )
    webpush_vapid_subject: str = Field(
        default="mailto:alerts@tawny.london",
        min_length=8,
        max_length=320,
        description="The VAPID 'sub' claim: a mailto: (or https:) contact push services may use "
        "to reach the platform's operators",
    )
    webpush_ttl_s: int = Field(
        default=86400,
        ge=0,
        le=MAX_WEBPUSH_TTL_S,
        description="How long a push service keeps an alert for a browser that is offline, seconds",
    )
    webpush_concurrency: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Web pushes one dispatch process has in flight at once (so the most HTTP "
        "connections to push services)",
    )
    webpush_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_WEBPUSH_TIMEOUT_S,
        description="Longest time one push request to a push service may take, in seconds",
    )
    webpush_rate_per_s: float = Field(
        default=0.0,
        ge=0,
        le=100_000,
        description="Web pushes per second the whole deployment may send (a token bucket "
        "shared through PostgreSQL); 0: no limit",
    )
    webpush_rate_burst: int = Field(
        default=100, ge=1, le=100_000, description="Token bucket size for webpush_rate_per_s"
    )
    webpush_insecure_origins: str = Field(
        default="",
        max_length=1000,
        description="Comma-separated http:// origins (scheme://host:port) whose push endpoints "
        "members may register, such as the dev stack's push sink; refused in production",
    )
    devices_per_channel: int = Field(
        default=DEFAULT_DEVICES_PER_CHANNEL,
        ge=1,
        le=100,
        description="Browsers (web push subscriptions) and app installations (FCM tokens) one "
        "member may register on each of those channels; past it the member removes one first",
    )

    @field_validator("webpush_vapid_subject")
    @classmethod
    def _is_a_contact(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")):
            raise ValueError("must be a mailto: or https: URI (RFC 8292 section 2.1)")
        return value

    @field_validator("webpush_vapid_private_key")
    @classmethod
    def _is_a_vapid_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            Vapid02.from_string(value.get_secret_value())
        except Exception as error:  # py_vapid raises several kinds for a malformed key
            raise ValueError("must be a P-256 private key as base64url (raw or DER)") from error
        return value

    @field_validator("webpush_insecure_origins")
    @classmethod
    def _are_http_origins(cls, value: str) -> str:
        for origin in _split_origins(value):
            parts = urlsplit(origin)
            if parts.scheme != "http" or not parts.netloc or parts.path or parts.query:
                raise ValueError(f"not an http origin (http://host:port): {origin!r}")
        return value

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

    @model_validator(mode="after")
    def _sweeper_waits_for_the_slowest_chunk(self) -> DispatchSettings:
        # Each channel bounds one hand-over by its own timeout; the slowest one in use counts.
        timeouts = [self.smtp_timeout_s, self.webpush_timeout_s]
        if self.fcm_enabled:
            timeouts.append(self.fcm_timeout_s)
        if self.notify_api_key_value is not None:
            timeouts.append(self.notify_timeout_s)
        slowest_send = max(timeouts)
        # A chunk may first wait up to send_budget_s for a shared provider rate limit's tokens.
        waits = 2 if self.rate_limited else 1
        slowest_chunk = waits * self.send_budget_s + slowest_send + RECORDING_MARGIN_S
        if self.sending_timeout_s <= slowest_chunk:
            raise ValueError(
                f"sending_timeout_s must exceed send_budget_s (twice with a rate limit) + the "
                f"longest channel timeout + {RECORDING_MARGIN_S:g} ({slowest_chunk:g}): a slow "
                "chunk would be sent twice"
            )
        return self

    @model_validator(mode="after")
    def _leases_are_renewed_in_time(self) -> DispatchSettings:
        if self.lease_renew_interval_s * 3 > self.lease_s:
            raise ValueError(
                "lease_renew_interval_s must be at most a third of lease_s: a live dispatcher's "
                "lease would lapse after one slow renewal, and its deliveries be sent twice"
            )
        return self

    @model_validator(mode="after")
    def _development_gets_a_vapid_key(self) -> DispatchSettings:
        # Production refuses an unset key instead (check_production).
        if (
            self.webpush_vapid_private_key is None
            and self.environment is not Environment.PRODUCTION
        ):
            self.webpush_vapid_private_key = SecretStr(new_vapid_private_key())
        return self

    @property
    def rate_limited(self) -> bool:
        return any(
            rate > 0
            for rate in (
                self.email_rate_per_s,
                self.webpush_rate_per_s,
                self.fcm_rate_per_s,
                self.notify_rate_per_s,
            )
        )

    @property
    def webpush_insecure_origin_list(self) -> tuple[str, ...]:
        return tuple(_split_origins(self.webpush_insecure_origins))

    @property
    def vapid(self) -> Vapid02:
        if self.webpush_vapid_private_key is None:
            raise ValueError("DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY is not set")
        return Vapid02.from_string(self.webpush_vapid_private_key.get_secret_value())

    @property
    def smtp_password_value(self) -> str | None:
        if self.smtp_password is None or not self.smtp_password.get_secret_value():
            return None
        return self.smtp_password.get_secret_value()

    @property
    def unsubscribe_key_value(self) -> bytes:
        if self.unsubscribe_key is None:
            return DEV_UNSUBSCRIBE_KEY.encode()
        return self.unsubscribe_key.get_secret_value().encode()

    @property
    def fcm_enabled(self) -> bool:
        has_key = self.fcm_service_account_file is not None or self.fcm_service_account_json
        return self.fcm_project_id is not None and bool(has_key)

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

    def check_production(self) -> None:
        for name, url in (
            ("DISPATCH_FCM_BASE_URL", self.fcm_base_url),
            ("DISPATCH_FCM_TOKEN_URL", self.fcm_token_url),
            ("DISPATCH_NOTIFY_BASE_URL", self.notify_base_url),
        ):
            if not url.startswith("https://"):
                raise ValueError(f"{name} must be an https URL in production")
        if self.notify_api_key_value is not None and (
            self.notify_sms_template_id == DEV_SMS_TEMPLATE_ID
            or self.notify_letter_template_id == DEV_LETTER_TEMPLATE_ID
        ):
            raise ValueError(
                "DISPATCH_NOTIFY_SMS_TEMPLATE_ID and DISPATCH_NOTIFY_LETTER_TEMPLATE_ID must name "
                "the Notify service's own templates in production"
            )
        if self.smtp_username is not None and self.smtp_password_value is None:
            raise ValueError("DISPATCH_SMTP_PASSWORD must be set with DISPATCH_SMTP_USERNAME")
        if self.smtp_username is not None and not self.smtp_starttls:
            raise ValueError("SMTP credentials are sent only over STARTTLS in production")
        if self.unsubscribe_key is None:
            raise ValueError("DISPATCH_UNSUBSCRIBE_KEY must be set in production")
        if not self.public_base_url.startswith("https://"):
            raise ValueError("DISPATCH_PUBLIC_BASE_URL must be https:// in production")
        if self.webpush_vapid_private_key is None:
            raise ValueError(
                "DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY must be set in production: browsers bind "
                "their subscriptions to its public key"
            )
        if self.webpush_insecure_origins.strip():
            raise ValueError("DISPATCH_WEBPUSH_INSECURE_ORIGINS must be empty in production")


def new_vapid_private_key() -> str:
    """A fresh P-256 private key as base64url of its 32 raw bytes (what VAPID tools print)."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _split_origins(value: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
