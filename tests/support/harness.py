"""The fixtures every service's tests share, once (a pytest plugin loaded by tests/conftest.py).

A service's conftest.py names the service (``service_name``), builds its settings (``settings``,
with ``database_url`` and ``kafka_namespace`` from here) and its app (``service_app``); from
those, every service gets the same:

- ``app``: the app running its lifespan (engine, producer, outbox relay, consumers) for the
  session, in a Kafka namespace of its own so it reads only the events its tests publish, and
  accepting the tests' tokens (``tests.support.tokens``) unless the service issues tokens itself;
- ``client``: ``httpx`` in-process against ``app``;
- ``engine`` and ``sessions``: the tests' own connections, to look at what the app committed;
- ``session``: a session whose work is rolled back at the end of the test, its commits included
  (they release savepoints of one outer transaction);
- ``producer``: publishes where the app reads (``send_and_wait(Topic.X.value, ...)``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import build_engine, build_sessionmaker
from shared.settings import ServiceSettings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import namespaced_producer
from tests.support.tokens import test_verifier


@pytest.fixture(scope="session")
def service_name() -> str:
    raise pytest.UsageError(
        "a service's conftest.py defines the fixture service_name (and settings, service_app)"
    )


@pytest.fixture(scope="session")
def accepts_test_tokens() -> bool:
    """Whether ``app`` verifies tokens signed by tests.support.tokens; identity, which issues
    and verifies its own, says no."""
    return True


@pytest.fixture(scope="session")
def database_url(infrastructure: Infrastructure, service_name: str) -> str:
    # Synchronous on purpose: the migrations call asyncio.run.
    return infrastructure.fresh_database(service_name)


@pytest.fixture(scope="session")
def kafka_namespace(infrastructure: Infrastructure, service_name: str) -> str:
    """The service's own namespace inside the session's, its topics created."""
    return infrastructure.kafka_namespace_for(service_name)


@pytest.fixture(scope="session")
async def app(service_app: FastAPI, accepts_test_tokens: bool) -> AsyncIterator[FastAPI]:
    """One running app for the session; tests use unique data."""
    async with service_app.router.lifespan_context(service_app):
        if not accepts_test_tokens:
            yield service_app
            return
        verifier = test_verifier()
        service_app.state.jwks_verifier = verifier
        try:
            yield service_app
        finally:
            await verifier.aclose()


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Session-scoped, so module-scoped fixtures (identity's authorisation matrix) can use it."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def engine(database_url: str, service_name: str) -> AsyncIterator[AsyncEngine]:
    """The tests' own connections, apart from the app's."""
    engine = build_engine(database_url, application_name=f"{service_name}-tests", pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """For looking at what the app committed, and for committing data the app should see."""
    return build_sessionmaker(engine)


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back at the end of the test, commits included."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture(scope="session")
async def producer(settings: ServiceSettings, service_name: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = namespaced_producer(settings, client_id=f"{service_name}-tests")
    await producer.start()
    yield producer
    await producer.stop()
