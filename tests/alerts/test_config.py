"""Where the alerts service's settings come from."""

from __future__ import annotations

import pytest

from services.alerts.config import AlertsSettings


def test_own_settings_use_the_alerts_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTS_DATABASE_URL", "postgresql://alerts@db.internal/alerts")
    monkeypatch.setenv("ALERTS_SENDER_NAME", "Met Police Safer Neighbourhoods")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")

    settings = AlertsSettings()

    assert settings.database_url == "postgresql://alerts@db.internal/alerts"
    assert settings.sender_name == "Met Police Safer Neighbourhoods"
    assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_sender_name_defaults_to_tawny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTS_SENDER_NAME", raising=False)

    assert AlertsSettings().sender_name == "Tawny"
