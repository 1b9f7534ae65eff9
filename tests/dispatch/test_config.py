"""DispatchSettings: what it accepts and what it refuses in production."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from services.dispatch.config import DEV_UNSUBSCRIBE_KEY, DispatchSettings, new_vapid_private_key
from shared.settings import Environment


class TestDispatchSettings:
    def test_defaults_suit_the_dev_stack(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("HOST", "PORT", "PASSWORD"):
            monkeypatch.delenv(f"DISPATCH_SMTP_{name}", raising=False)
        monkeypatch.delenv("DISPATCH_SEND_CONCURRENCY", raising=False)
        monkeypatch.delenv("DISPATCH_EMAIL_FROM", raising=False)

        settings = DispatchSettings()

        assert (settings.smtp_host, settings.smtp_port) == ("127.0.0.1", 1025)
        assert settings.send_concurrency == 8
        assert settings.email_from == "Tawny alerts <alerts@tawny.london>"
        assert settings.smtp_password_value is None

    def test_reads_its_prefixed_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DISPATCH_SMTP_PORT", "2525")
        monkeypatch.setenv("DISPATCH_SMTP_PASSWORD", "s3cret")

        settings = DispatchSettings()

        assert settings.smtp_port == 2525
        assert settings.smtp_password_value == "s3cret"
        assert "s3cret" not in repr(settings)

    def test_from_must_be_an_address(self) -> None:
        with pytest.raises(ValidationError, match="email address"):
            DispatchSettings(email_from="Tawny alerts")

    def test_from_must_be_one_line(self) -> None:
        with pytest.raises(ValidationError, match="one line"):
            DispatchSettings(email_from="alerts@tawny.london\r\nBcc: x@example.org")

    def test_production_needs_a_password_with_a_user_name(self) -> None:
        with pytest.raises(ValidationError, match="DISPATCH_SMTP_PASSWORD"):
            DispatchSettings(
                environment=Environment.PRODUCTION, smtp_username="tawny", smtp_starttls=True
            )

    def test_production_sends_credentials_only_over_starttls(self) -> None:
        with pytest.raises(ValidationError, match="STARTTLS"):
            DispatchSettings(
                environment=Environment.PRODUCTION, smtp_username="tawny", smtp_password="pw"
            )

    def test_production_accepts_credentials_over_starttls(self) -> None:
        settings = DispatchSettings(
            environment=Environment.PRODUCTION,
            smtp_username="tawny",
            smtp_password="pw",
            smtp_starttls=True,
            unsubscribe_key="k" * 32,
            public_base_url="https://tawny.london",
            webpush_vapid_private_key=new_vapid_private_key(),
        )

        assert settings.smtp_starttls

    def test_production_needs_its_own_unsubscribe_key(self) -> None:
        with pytest.raises(ValidationError, match="DISPATCH_UNSUBSCRIBE_KEY"):
            DispatchSettings(
                environment=Environment.PRODUCTION, public_base_url="https://tawny.london"
            )

    def test_production_links_are_https(self) -> None:
        with pytest.raises(ValidationError, match="DISPATCH_PUBLIC_BASE_URL"):
            DispatchSettings(environment=Environment.PRODUCTION, unsubscribe_key="k" * 32)

    def test_development_signs_links_with_the_development_key(self) -> None:
        assert DispatchSettings().unsubscribe_key_value == DEV_UNSUBSCRIBE_KEY.encode()

    def test_refuses_a_short_unsubscribe_key(self) -> None:
        with pytest.raises(ValidationError, match="unsubscribe_key"):
            DispatchSettings(unsubscribe_key="short")

    def test_refuses_a_sweeper_that_could_take_rows_from_a_live_chunk(self) -> None:
        with pytest.raises(ValidationError, match="sending_timeout_s"):
            DispatchSettings(send_budget_s=30, smtp_timeout_s=10, sending_timeout_s=45)

    def test_accepts_a_sweeper_timeout_beyond_the_slowest_chunk(self) -> None:
        settings = DispatchSettings(
            send_budget_s=3, smtp_timeout_s=2, webpush_timeout_s=1, sending_timeout_s=16
        )

        assert settings.sending_timeout_s == 16

    def test_a_rate_limited_chunk_may_first_wait_a_send_budget_for_its_tokens(self) -> None:
        def limited(sending_timeout_s: float) -> DispatchSettings:
            return DispatchSettings(
                send_budget_s=3,
                smtp_timeout_s=2,
                webpush_timeout_s=1,
                email_rate_per_s=10,
                sending_timeout_s=sending_timeout_s,
            )

        with pytest.raises(ValidationError, match="twice with a rate limit"):
            limited(16)
        assert limited(19).rate_limited

    def test_refuses_leases_renewed_too_rarely_to_outlive_one_late_renewal(self) -> None:
        with pytest.raises(ValidationError, match="lease_renew_interval_s"):
            DispatchSettings(lease_s=10, lease_renew_interval_s=5)

        assert DispatchSettings(lease_s=9, lease_renew_interval_s=3).lease_s == 9

    def test_the_slowest_chunk_is_the_slower_channels(self) -> None:
        with pytest.raises(ValidationError, match="sending_timeout_s must exceed"):
            DispatchSettings(
                send_budget_s=3, smtp_timeout_s=2, webpush_timeout_s=5, sending_timeout_s=16
            )


# The groups DispatchSettings combines: the classes of the config package's modules.
SETTINGS_GROUPS: list[type[BaseModel]] = [
    base
    for base in DispatchSettings.__mro__
    if issubclass(base, BaseModel) and base.__module__.startswith("services.dispatch.config.")
]


class TestSettingsGroups:
    """The settings are grouped per channel or concern (``services/dispatch/config/``); each is
    still read from ``DISPATCH_`` and its name, and checked by its group's rules."""

    @pytest.mark.parametrize(
        ("variable", "value", "attribute", "expected"),
        [
            ("DISPATCH_SMTP_HOST", "mail.example.org", "smtp_host", "mail.example.org"),
            ("DISPATCH_WEBPUSH_TTL_S", "3600", "webpush_ttl_s", 3600),
            ("DISPATCH_FCM_CONCURRENCY", "7", "fcm_concurrency", 7),
            ("DISPATCH_NOTIFY_CONCURRENCY", "5", "notify_concurrency", 5),
            ("DISPATCH_SMS_MAX_SEGMENTS", "2", "sms_max_segments", 2),
            ("DISPATCH_CLAIM_SIZE", "50", "claim_size", 50),
            ("DISPATCH_DEVICES_PER_CHANNEL", "4", "devices_per_channel", 4),
            ("DISPATCH_DIGEST_INTERVAL_S", "120", "digest_interval_s", 120.0),
            ("DISPATCH_RUN_CONSUMERS", "false", "run_consumers", False),
        ],
    )
    def test_each_group_reads_its_prefixed_variables(
        self,
        monkeypatch: pytest.MonkeyPatch,
        variable: str,
        value: str,
        attribute: str,
        expected: object,
    ) -> None:
        monkeypatch.setenv(variable, value)

        assert getattr(DispatchSettings(), attribute) == expected

    @pytest.mark.parametrize(
        ("variable", "value", "refusal"),
        [
            ("DISPATCH_EMAIL_FROM", "Tawny alerts", "email address"),
            ("DISPATCH_WEBPUSH_VAPID_SUBJECT", "alerts@tawny.london", "mailto:"),
            ("DISPATCH_WEBPUSH_INSECURE_ORIGINS", "ftp://sink:8080", "not an http origin"),
            ("DISPATCH_PUBLIC_BASE_URL", "tawny.london", "http:// or https://"),
            ("DISPATCH_NOTIFY_SMS_TEMPLATE_ID", "too-short", "notify_sms_template_id"),
        ],
    )
    def test_each_group_checks_its_own_values(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, refusal: str
    ) -> None:
        monkeypatch.setenv(variable, value)

        with pytest.raises(ValidationError, match=refusal):
            DispatchSettings()

    def test_no_setting_is_in_two_groups_and_every_one_is_dispatchs(self) -> None:
        grouped = [name for group in SETTINGS_GROUPS for name in group.model_fields]

        assert len(SETTINGS_GROUPS) == 7
        assert len(grouped) == len(set(grouped))
        assert set(grouped) <= set(DispatchSettings.model_fields)
