"""The whole platform as real processes, on the session's PostgreSQL and broker, in a Kafka
namespace of its own (``KAFKA_NAMESPACE``): its consumer groups and topics never meet those of
the in-process service tests. ``E2E_KAFKA_BOOTSTRAP_SERVERS`` names another broker."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from deploy.devstack import DevStack, Ports, StackOptions
from shared.kafka import namespaced
from tests.support.infrastructure import (
    PLATFORM_CLIENT_TIMEOUT_S,
    SHARED_RIG_RATE_LIMITS,
    SLOW_MACHINE_ENV,
    Infrastructure,
)


@pytest.fixture(scope="session")
def platform(infrastructure: Infrastructure) -> Iterator[DevStack]:
    with tempfile.TemporaryDirectory(prefix="tawny-e2e-") as work_dir:
        options = StackOptions(
            ports=Ports.free(),
            work_dir=Path(work_dir),
            database_url=infrastructure.server_url,
            kafka_bootstrap_servers=os.environ.get("E2E_KAFKA_BOOTSTRAP_SERVERS")
            or infrastructure.kafka_bootstrap_servers,
            kafka_enable_idempotence=infrastructure.kafka_enable_idempotence,
            kafka_namespace=namespaced("e2e", infrastructure.kafka_namespace),
            database_prefix=f"e2e_{uuid.uuid4().hex[:6]}_",
            dispatchers=2,
            progress=False,
            extra_env={**SLOW_MACHINE_ENV, **SHARED_RIG_RATE_LIMITS},
        )
        with DevStack(options).running() as stack:
            yield stack


# Clients of the platform's gateway and SMTP sink, for the tests that need no more.
@pytest.fixture
async def gateway(platform: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as client:
        yield client


@pytest.fixture
async def mailbox(platform: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.smtp_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as client:
        yield client
