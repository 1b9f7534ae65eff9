"""Settings of the dispatch service, read from ``DISPATCH_*`` variables (and the platform's
own). One group per channel or concern, each in its own module, combined here into
``DispatchSettings``; the environment variables are the fields' names with the prefix, so
grouping them changes none."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.dispatch.config.deliveries import RECORDING_MARGIN_S, DeliverySettings
from services.dispatch.config.email import MAX_SMTP_TIMEOUT_S, EmailSettings
from services.dispatch.config.fcm import FcmSettings
from services.dispatch.config.jobs import PeriodicJobSettings
from services.dispatch.config.members import (
    DEFAULT_DEVICES_PER_CHANNEL,
    DEV_UNSUBSCRIBE_KEY,
    MemberSettings,
)
from services.dispatch.config.notify import NotifySettings
from services.dispatch.config.webpush import WebPushSettings, new_vapid_private_key
from shared.settings import Environment, ServiceSettings

__all__ = [
    "DEFAULT_DEVICES_PER_CHANNEL",
    "DEV_UNSUBSCRIBE_KEY",
    "MAX_SMTP_TIMEOUT_S",
    "RECORDING_MARGIN_S",
    "DispatchSettings",
    "new_vapid_private_key",
]


class DispatchSettings(
    ServiceSettings,
    EmailSettings,
    WebPushSettings,
    FcmSettings,
    NotifySettings,
    DeliverySettings,
    MemberSettings,
    PeriodicJobSettings,
):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/dispatch",
        description="The dispatch service's own PostgreSQL database",
    )
    run_consumers: bool = Field(
        default=True,
        description="Consume Kafka events in this process; false makes a send-only process that "
        "drains the deliveries other dispatchers recorded",
    )

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

    def check_production(self) -> None:
        self._check_fcm_for_production()
        self._check_notify_for_production()
        self._check_email_for_production()
        self._check_member_links_for_production()
        self._check_webpush_for_production()
