"""Identity runs in-process with its lifespan against the session's PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.identity.app import create_app
from services.identity.config import IdentitySettings
from shared.auth import JWKSVerifier

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

# Three London postcodes and one outside London, for address verification.
POSTCODES_CSV = Path(__file__).with_name("postcodes.csv")


def identity_settings(
    infrastructure: Infrastructure,
    database_url: str,
    *,
    kafka_namespace: str,
    **overrides: object,
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
        kafka_namespace=kafka_namespace,
        environment="test",
        public_base_url="https://tawny.example",
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def service_name() -> str:
    return "identity"


@pytest.fixture(scope="session")
def accepts_test_tokens() -> bool:
    """Identity verifies the tokens it issues itself."""
    return False


@pytest.fixture(scope="session")
def settings(
    infrastructure: Infrastructure, database_url: str, kafka_namespace: str
) -> IdentitySettings:
    return identity_settings(infrastructure, database_url, kafka_namespace=kafka_namespace)


@pytest.fixture(scope="session")
def service_app(settings: IdentitySettings) -> FastAPI:
    return create_app(settings)


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
