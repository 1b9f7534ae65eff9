"""The FCM and Notify settings: what turns each on, and what production refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.dispatch.channels.fcm import FcmChannel, FcmConfigurationError
from services.dispatch.channels.notify import NotifyClient, NotifyConfigurationError
from services.dispatch.config import DispatchSettings, new_vapid_private_key
from shared.settings import Environment

API_KEY = "live-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"


def production_settings(**overrides: Any) -> DispatchSettings:
    """Production settings with what production needs besides the providers' own."""
    values: dict[str, Any] = {
        "environment": Environment.PRODUCTION,
        "public_base_url": "https://tawny.example",
        "unsubscribe_key": "u" * 32,
        "webpush_vapid_private_key": new_vapid_private_key(),
        **overrides,
    }
    return DispatchSettings(**values)


class TestProviderSettings:
    def test_neither_provider_is_on_by_default(self) -> None:
        settings = DispatchSettings()
        assert not settings.fcm_enabled
        assert NotifyClient.from_settings(settings) is None
        assert FcmChannel.from_settings(settings) is None

    def test_a_malformed_notify_key_or_a_missing_fcm_key_file_is_refused_at_start(
        self, tmp_path: Path
    ) -> None:
        with pytest.raises(NotifyConfigurationError):
            NotifyClient.from_settings(DispatchSettings(notify_api_key="not-a-key"))
        with pytest.raises(FcmConfigurationError, match="can't be read"):
            FcmChannel.from_settings(
                DispatchSettings(
                    fcm_project_id="p", fcm_service_account_file=tmp_path / "missing.json"
                )
            )

    def test_production_wants_https_providers(self) -> None:
        with pytest.raises(ValidationError, match="DISPATCH_NOTIFY_BASE_URL"):
            DispatchSettings(
                environment=Environment.PRODUCTION, notify_base_url="http://notify.internal"
            )

    def test_production_wants_the_notify_services_own_templates(self) -> None:
        with pytest.raises(ValidationError, match="TEMPLATE_ID"):
            production_settings(notify_api_key=API_KEY)
        settings = production_settings(
            notify_api_key=API_KEY,
            notify_sms_template_id="11111111-2222-3333-4444-555555555555",
            notify_letter_template_id="66666666-7777-8888-9999-000000000000",
        )
        assert settings.notify_api_key_value == API_KEY

    def test_the_sweeper_waits_for_the_slowest_channel_in_use(self) -> None:
        DispatchSettings(
            send_budget_s=3, smtp_timeout_s=2, webpush_timeout_s=2, sending_timeout_s=16
        )
        with pytest.raises(ValidationError, match="sending_timeout_s"):
            DispatchSettings(
                send_budget_s=3,
                smtp_timeout_s=2,
                webpush_timeout_s=2,
                notify_api_key=API_KEY,
                notify_timeout_s=10,
                sending_timeout_s=16,
            )
