"""The alerts service on a database built by its own migrations, and the session's broker
(app, client, engine, sessions, session and producer come from tests/support/harness.py)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from fastapi import FastAPI

from services.alerts.app import create_app
from services.alerts.config import AlertsSettings
from shared.settings import Environment

# The shared fixtures, bound to this directory: pytest caches a session fixture once per
# definition, so one definition in the plugin alone would hand every service after the first
# the first one's database, namespace and app when the suites run in one session.
from tests.support.harness import (
    app,
    client,
    database_url,
    engine,
    kafka_namespace,
    producer,
    session,
    sessions,
)
from tests.support.infrastructure import Infrastructure

SENDER_NAME = "Tawny (tests)"
# The official OASIS schema lives beside the repository, never in it.
CAP_XSD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cap" / "CAP-v1.2.xsd"
LONDON_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "london"
WARDS_CSV = LONDON_DATA / "wards.csv"
WARDS_GEOJSON = LONDON_DATA / "wards.geojson"
# Wards only the tests have ("T" and eight digits, in no borough): a test that needs a ward of
# its own takes the next one (``helpers.unique_ward_code``), since the targeting contract
# refuses a code its boundary set does not have.
TEST_WARD_PREFIX = "T"
TEST_WARD_COUNT = 20_000
# Boroughs only the tests have (E099 and five digits), each with one ward ("B" and eight).
TEST_BOROUGH_PREFIX = "E099"
TEST_BOROUGH_COUNT = 2_000


@functools.cache
def wards_csv_with_test_wards() -> Path:
    """London's wards (``WARDS_CSV``) and the tests' own, as one CSV for ALERTS_WARDS_CSV."""
    folder = Path(tempfile.mkdtemp(prefix="tawny-alerts-wards-"))
    path = folder / "wards.csv"
    lines = WARDS_CSV.read_text(encoding="utf-8").rstrip("\n").splitlines()
    lines += [f"{TEST_WARD_PREFIX}{n:08d},Test ward {n},," for n in range(TEST_WARD_COUNT)]
    lines += [
        f"B{n:08d},Test borough ward {n},{TEST_BOROUGH_PREFIX}{n:05d},Test borough {n}"
        for n in range(TEST_BOROUGH_COUNT)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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
        # Partners' callbacks looked for often, and retried soon, so tests wait little.
        webhook_poll_interval_s=0.1,
        webhook_backoff_base_s=0.2,
        webhook_backoff_max_s=1.0,
        webhook_max_attempts=3,
        wards_csv=wards_csv_with_test_wards(),
        wards_geojson=WARDS_GEOJSON,
    )


@pytest.fixture(scope="session")
def service_app(settings: AlertsSettings) -> FastAPI:
    return create_app(settings)
