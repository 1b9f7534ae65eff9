"""The alerts service on a database built by its own migrations, and the session's broker
(app, client, engine, sessions, session and producer come from tests/support/harness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from services.alerts.app import create_app
from services.alerts.config import AlertsSettings
from shared.settings import Environment
from tests.support.infrastructure import Infrastructure

SENDER_NAME = "Tawny (tests)"
# The official OASIS schema lives beside the repository, never in it.
CAP_XSD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cap" / "CAP-v1.2.xsd"
LONDON_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "london"
WARDS_CSV = LONDON_DATA / "wards.csv"
WARDS_GEOJSON = LONDON_DATA / "wards.geojson"
requires_cap_schema = pytest.mark.skipif(
    not CAP_XSD.is_file(), reason=f"the official CAP 1.2 schema is not at {CAP_XSD}"
)


@pytest.fixture(scope="session")
def service_name() -> str:
    return "alerts"


@pytest.fixture(scope="session")
def settings(
    infrastructure: Infrastructure, database_url: str, kafka_namespace: str
) -> AlertsSettings:
    return AlertsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_enable_idempotence=infrastructure.kafka_enable_idempotence,
        kafka_namespace=kafka_namespace,
        environment=Environment.TEST,
        sender_name=SENDER_NAME,
        log_json=False,
        database_pool_size=4,
        cap_schema_path=str(CAP_XSD) if CAP_XSD.is_file() else None,
        cap_max_bytes=64 * 1024,
        scheduler_interval_s=0.5,
        wards_csv=WARDS_CSV,
        wards_geojson=WARDS_GEOJSON,
    )


@pytest.fixture(scope="session")
def service_app(settings: AlertsSettings) -> FastAPI:
    return create_app(settings)
