"""Fixtures of the geo tests: one migrated database with the demo geography, and the app that
tests/support/harness.py runs for the whole session (its consumers and outbox relay included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from services.geo.app import create_app
from services.geo.boundaries.importer import import_files
from services.geo.boundaries.schemas import ImportSummary
from services.geo.config import GeoSettings
from services.geo.demo import demo_paths

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

REPO_ROOT = Path(__file__).resolve().parents[2]
LONDON_DATA = REPO_ROOT.parent / "shared" / "data" / "london"

# Small caps so that the size limits can be proved with small requests.
TEST_MAX_FEATURES = 20
TEST_MAX_VERTICES = 2_000
TEST_MAX_BODY_BYTES = 200_000
TEST_MAX_SUBSCRIPTIONS = 3
TEST_BATCH_SIZE = 2


@pytest.fixture(scope="session")
def service_name() -> str:
    return "geo"


@pytest.fixture(scope="session")
def settings(
    infrastructure: Infrastructure, database_url: str, kafka_namespace: str
) -> GeoSettings:
    return GeoSettings(
        database_url=database_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_enable_idempotence=infrastructure.kafka_enable_idempotence,
        kafka_namespace=kafka_namespace,
        environment="test",
        log_json=False,
        outbox_poll_interval_s=0.05,
        recipient_batch_size=TEST_BATCH_SIZE,
        max_import_features=TEST_MAX_FEATURES,
        max_import_vertices=TEST_MAX_VERTICES,
        max_import_body_bytes=TEST_MAX_BODY_BYTES,
        max_subscriptions_per_member=TEST_MAX_SUBSCRIPTIONS,
        # Counted on every request, so that each test sees the subscriptions it just added.
        dashboard_max_age_s=0,
    )


@pytest.fixture(scope="session")
async def demo_set(database_url: str) -> ImportSummary:
    """The geography every API test reads. Tests that import again import the same codes, so
    whichever set is current, the demo wards are in it."""
    wards, boroughs = demo_paths()
    return await import_files(database_url, wards, boroughs, name="demo")


@pytest.fixture(scope="session")
def service_app(settings: GeoSettings, demo_set: ImportSummary) -> FastAPI:
    """The app starts on the demo geography."""
    return create_app(settings)
