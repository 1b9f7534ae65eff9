"""Identity runs in-process with its lifespan against the session's PostgreSQL and Kafka."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.identity.app import create_app
from services.identity.config import IdentitySettings
from shared.auth import JWKSVerifier
from shared.db import build_engine, build_sessionmaker
from tests.support.infrastructure import Infrastructure

# Three London postcodes and one outside London, for address verification.
POSTCODES_CSV = Path(__file__).with_name("postcodes.csv")


def identity_settings(
    infrastructure: Infrastructure, database_url: str, **overrides: object
) -> IdentitySettings:
    values: dict[str, object] = {
        # In-process requests all come from 127.0.0.1; tests that need distinct client IPs
        # send X-Forwarded-For, trusted from there.
        "trusted_proxies": "127.0.0.1",
        "sign_in_free_failures_per_ip": 100_000,
        # A rotated key signs at once here; publishing ahead is tested on the service.
        "signing_key_publish_ahead_s": 0,
        "geocoder": "csv",
        "postcodes_csv_path": str(POSTCODES_CSV),
        **overrides,
    }
    return IdentitySettings(
        database_url=database_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_enable_idempotence=infrastructure.kafka_enable_idempotence,
        environment="test",
        public_base_url="https://tawny.example",
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def database_url(infrastructure: Infrastructure) -> str:
    return infrastructure.fresh_database("identity")


@pytest.fixture(scope="session")
def settings(infrastructure: Infrastructure, database_url: str) -> IdentitySettings:
    return identity_settings(infrastructure, database_url)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan."""
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def app(settings: IdentitySettings) -> AsyncIterator[FastAPI]:
    async with running(create_app(settings)) as app:
        yield app


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(database_url, application_name="identity-tests", pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """For looking at what the app committed (the outbox, the members table)."""
    return build_sessionmaker(engine)


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back at the end of the test, commits included."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
async def verifier(app: FastAPI, settings: IdentitySettings) -> AsyncIterator[JWKSVerifier]:
    """What every other service does with identity's tokens, pointed at this app in-process."""
    verifier = JWKSVerifier(
        "http://identity.test/.well-known/jwks.json",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        http=httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity.test"
        ),
    )
    yield verifier
    await verifier.aclose()
