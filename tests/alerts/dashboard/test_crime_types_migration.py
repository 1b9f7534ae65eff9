"""The migration that split "vehicle_crime" maps existing alerts to theft from motor vehicles,
and undoing it maps both vehicle types back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from shared import migrations
from shared.db import async_url
from tests.alerts.test_migrations import VALID_ROW, insert_alert
from tests.support.infrastructure import Infrastructure

SPLIT = "b41f7d2e9c3a"


def in_database(url: str, work: Callable[[AsyncSession], Awaitable[object]]) -> object:
    async def run() -> object:
        engine = create_async_engine(async_url(url))
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def crime_types(session: AsyncSession) -> list[str]:
    return list((await session.scalars(text("SELECT crime_type FROM alerts ORDER BY 1"))).all())


def test_vehicle_crime_alerts_become_theft_from_motor_vehicles_and_back(
    infrastructure: Infrastructure,
) -> None:
    url = infrastructure.fresh_database("alerts")
    config = migrations.alembic_config("alerts", url)
    command.downgrade(config, f"{SPLIT}-1")

    async def two_alerts(session: AsyncSession) -> None:
        await insert_alert(session, **{**VALID_ROW, "crime_type": "vehicle_crime"})
        await insert_alert(session, **VALID_ROW)

    in_database(url, two_alerts)

    command.upgrade(config, SPLIT)
    assert in_database(url, crime_types) == ["burglary", "theft_from_motor_vehicle"]

    command.downgrade(config, f"{SPLIT}-1")
    assert in_database(url, crime_types) == ["burglary", "vehicle_crime"]
