"""A database of its own per test module, with the throwaway schema of
``tests.support.handled_events``, for the shared pieces that run on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.infra import create_databases, database_url_for
from shared.db import build_engine
from tests.support.handled_events import Base
from tests.support.infrastructure import Infrastructure


@pytest.fixture(scope="module")
def database_url(infrastructure: Infrastructure) -> str:
    name = f"test_shared_{uuid.uuid4().hex[:8]}"
    create_databases(infrastructure.server_url, [name])
    return database_url_for(infrastructure.server_url, name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(database_url, application_name="shared-tests", pool_size=4)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()
