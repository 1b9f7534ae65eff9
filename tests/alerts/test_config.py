"""Where the alerts service's settings come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.alerts.config import DEV_WARDS_CSV, DEV_WARDS_GEOJSON, AlertsSettings
from shared.settings import Environment


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


def test_the_ward_files_default_to_the_shared_data_in_development_only() -> None:
    development = AlertsSettings(environment=Environment.DEVELOPMENT)
    test = AlertsSettings(environment=Environment.TEST)

    if DEV_WARDS_CSV.is_file():
        assert development.ward_boroughs_path() == DEV_WARDS_CSV
        assert development.ward_boundaries_path() == DEV_WARDS_GEOJSON
    assert test.ward_boroughs_path() is None
    assert test.ward_boundaries_path() is None
    given = AlertsSettings(environment=Environment.TEST, wards_csv=Path("/srv/wards.csv"))
    assert given.ward_boroughs_path() == Path("/srv/wards.csv")
