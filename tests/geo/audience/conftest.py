"""A geography of its own for resolution tests: two boroughs side by side, two wards each,
in a database of its own (so the demo set the API tests read stays current there).

    West (E09888881)          | East (E09888882)
    Alder (E05888881)  Birch (E05888882) | Cedar (E05888883)  Damson (E05888884)
    lon -0.14 … -0.13 … -0.12 (the borough line) … -0.11 … -0.10, lat 51.50 … 51.51
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries.schemas import FeatureCollection, ImportSummary
from services.geo.boundaries.service import BoundaryService
from services.geo.targeting.wardmap import WardMap
from shared.db import build_engine, build_sessionmaker, session_scope
from tests.geo.factories import square
from tests.support.infrastructure import Infrastructure

WEST, EAST = "E09888881", "E09888882"
ALDER, BIRCH, CEDAR, DAMSON = "E05888881", "E05888882", "E05888883", "E05888884"
WARD_WEST_EDGE = {ALDER: -0.14, BIRCH: -0.13, CEDAR: -0.12, DAMSON: -0.11}
BOROUGH_LINE_LON = -0.12
SOUTH, NORTH = 51.50, 51.51


def _feature(properties: dict[str, Any], geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def two_boroughs() -> tuple[FeatureCollection, FeatureCollection]:
    boroughs = [
        _feature({"code": WEST, "name": "West"}, _box(-0.14, -0.12)),
        _feature({"code": EAST, "name": "East"}, _box(-0.12, -0.10)),
    ]
    names = {ALDER: "Alder", BIRCH: "Birch", CEDAR: "Cedar", DAMSON: "Damson"}
    wards = [
        _feature(
            {"code": code, "name": names[code], "borough_code": WEST if west < -0.12 else EAST},
            square(west, SOUTH),
        )
        for code, west in WARD_WEST_EDGE.items()
    ]
    return (
        FeatureCollection.model_validate({"type": "FeatureCollection", "features": boroughs}),
        FeatureCollection.model_validate({"type": "FeatureCollection", "features": wards}),
    )


def _box(west: float, east: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[west, SOUTH], [east, SOUTH], [east, NORTH], [west, NORTH], [west, SOUTH]]
        ],
    }


@pytest.fixture(scope="session")
def two_borough_url(infrastructure: Infrastructure) -> str:
    return infrastructure.fresh_database("geo")


@pytest.fixture(scope="session")
async def two_borough_set(two_borough_url: str) -> ImportSummary:
    engine = build_engine(two_borough_url, application_name="geo-tests-two", pool_size=1)
    try:
        boroughs, wards = two_boroughs()
        async with session_scope(build_sessionmaker(engine)) as session:
            return await BoundaryService(session).import_boundary_set(
                name="two boroughs", boroughs=boroughs, wards=wards, limits=None
            )
    finally:
        await engine.dispose()


@pytest.fixture
async def geo_session(
    two_borough_url: str, two_borough_set: ImportSummary
) -> AsyncIterator[AsyncSession]:
    """A session on the two-borough database, rolled back after the test."""
    engine = build_engine(two_borough_url, application_name="geo-tests-two", pool_size=1)
    try:
        async with build_sessionmaker(engine)() as session:
            try:
                yield session
            finally:
                await session.rollback()
    finally:
        await engine.dispose()


@pytest.fixture
async def ward_map(geo_session: AsyncSession, two_borough_set: ImportSummary) -> WardMap:
    return await BoundaryService(geo_session).ward_map(two_borough_set.id)
