"""Fixtures of the geo tests: one migrated database with the demo geography, one running app
(its consumer and outbox relay included) for the whole session, and sessions rolled back per
test for repository and service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.geo.app import create_app
from services.geo.boundaries.importer import import_files
from services.geo.boundaries.schemas import ImportSummary
from services.geo.config import GeoSettings
from services.geo.demo import demo_paths
from shared.db import build_engine, build_sessionmaker
from tests.support.infrastructure import Infrastructure
from tests.support.tokens import test_verifier

REPO_ROOT = Path(__file__).resolve().parents[2]
LONDON_DATA = REPO_ROOT.parent / "shared" / "data" / "london"

# Small caps so that the size limits can be proved with small requests.
TEST_MAX_FEATURES = 20
TEST_MAX_VERTICES = 2_000
TEST_MAX_BODY_BYTES = 200_000
TEST_MAX_SUBSCRIPTIONS = 3
TEST_BATCH_SIZE = 2


@pytest.fixture(scope="session")
def database_url(infrastructure: Infrastructure) -> str:
    return infrastructure.fresh_database("geo")


@pytest.fixture(scope="session")
def settings(infrastructure: Infrastructure, database_url: str) -> GeoSettings:
    return GeoSettings(
        database_url=database_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_enable_idempotence=infrastructure.kafka_enable_idempotence,
        environment="test",
        log_json=False,
        outbox_poll_interval_s=0.05,
        recipient_batch_size=TEST_BATCH_SIZE,
        max_import_features=TEST_MAX_FEATURES,
        max_import_vertices=TEST_MAX_VERTICES,
        max_import_body_bytes=TEST_MAX_BODY_BYTES,
        max_subscriptions_per_member=TEST_MAX_SUBSCRIPTIONS,
    )


@pytest.fixture(scope="session")
async def demo_set(database_url: str) -> ImportSummary:
    """The geography every API test reads. Tests that import again import the same codes, so
    whichever set is current, the demo wards are in it."""
    wards, boroughs = demo_paths()
    return await import_files(database_url, wards, boroughs, name="demo")


@pytest.fixture(scope="session")
async def app(settings: GeoSettings, demo_set: ImportSummary) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        verifier = test_verifier()
        app.state.jwks_verifier = verifier
        yield app
        await verifier.aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(database_url, application_name="geo-tests", pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return build_sessionmaker(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test."""
    async with sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()
