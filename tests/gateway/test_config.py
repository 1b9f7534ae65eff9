"""GatewaySettings: its defaults, its environment variables and its checks."""

from __future__ import annotations

import pydantic
import pytest

from services.gateway.config import GatewaySettings
from shared.settings import Environment

GATEWAY_AND_PLATFORM_VARIABLES = (
    "GATEWAY_IDENTITY_URL",
    "GATEWAY_ALERTS_URL",
    "GATEWAY_GEO_URL",
    "GATEWAY_DISPATCH_URL",
    "GATEWAY_UPSTREAM_TIMEOUT_S",
    "GATEWAY_CONNECT_TIMEOUT_S",
    "GATEWAY_READINESS_TIMEOUT_S",
    "GATEWAY_MAX_BODY_BYTES",
    "GATEWAY_MAX_CONNECTIONS",
    "GATEWAY_MAX_KEEPALIVE_CONNECTIONS",
    "TAWNY_ENV",
    "LOG_LEVEL",
    "LOG_JSON",
)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in GATEWAY_AND_PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


class TestGatewaySettings:
    def test_defaults(self, clean_environment: pytest.MonkeyPatch) -> None:
        settings = GatewaySettings()

        assert settings.upstream_urls() == {
            "identity": "http://127.0.0.1:8001",
            "alerts": "http://127.0.0.1:8002",
            "geo": "http://127.0.0.1:8003",
            "dispatch": "http://127.0.0.1:8004",
        }
        assert settings.upstream_timeout_s == 10
        assert settings.connect_timeout_s == 2
        assert settings.max_body_bytes == 10 * 1024 * 1024
        assert settings.environment is Environment.DEVELOPMENT

    def test_reads_its_prefixed_and_the_platform_variables(
        self, clean_environment: pytest.MonkeyPatch
    ) -> None:
        clean_environment.setenv("GATEWAY_ALERTS_URL", "http://alerts:8000/")
        clean_environment.setenv("GATEWAY_MAX_BODY_BYTES", "2048")
        clean_environment.setenv("GATEWAY_UPSTREAM_TIMEOUT_S", "3.5")
        clean_environment.setenv("TAWNY_ENV", "production")
        clean_environment.setenv("LOG_LEVEL", "DEBUG")
        clean_environment.setenv("LOG_JSON", "false")

        settings = GatewaySettings()

        assert settings.alerts_url == "http://alerts:8000"
        assert settings.max_body_bytes == 2048
        assert settings.upstream_timeout_s == 3.5
        assert settings.environment is Environment.PRODUCTION
        assert settings.log_level == "DEBUG"
        assert settings.log_json is False

    @pytest.mark.parametrize(
        "url",
        ["geo:8003", "ftp://geo:8003", "http://", "http://geo/?x=1", "http://user:pw@geo"],
    )
    def test_refuses_a_base_url_that_is_not_plain_http(
        self, clean_environment: pytest.MonkeyPatch, url: str
    ) -> None:
        with pytest.raises(pydantic.ValidationError):
            GatewaySettings(geo_url=url)

    def test_every_field_is_described(self) -> None:
        undescribed = [
            name for name, field in GatewaySettings.model_fields.items() if not field.description
        ]
        assert undescribed == []
