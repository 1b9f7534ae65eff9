"""The real London boundaries (ONS, in ../shared/data/london beside the repository), imported
once for this module. Skipped where that folder is absent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries.importer import import_files
from services.geo.boundaries.schemas import ImportSummary
from services.geo.boundaries.service import BoundaryService
from services.geo.models import Ward
from shared.db import build_engine, build_sessionmaker
from tests.geo.conftest import LONDON_DATA
from tests.support.infrastructure import Infrastructure

pytestmark = pytest.mark.skipif(
    not (LONDON_DATA / "wards.geojson").is_file(),
    reason=f"the London data is not at {LONDON_DATA}",
)


@pytest.fixture(scope="session")
def london_database_url(infrastructure: Infrastructure) -> str:
    return infrastructure.fresh_database("geo")


@pytest.fixture(scope="session")
async def london(london_database_url: str) -> ImportSummary:
    return await import_files(
        london_database_url,
        LONDON_DATA / "wards.geojson",
        LONDON_DATA / "boroughs.geojson",
        name="ONS wards December 2023",
    )


@pytest.fixture
async def london_session(
    london_database_url: str, london: ImportSummary
) -> AsyncIterator[AsyncSession]:
    engine = build_engine(london_database_url, application_name="geo-tests-london", pool_size=1)
    try:
        async with build_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


class TestLondon:
    def test_33_boroughs_and_704_wards(self, london: ImportSummary) -> None:
        assert (london.borough_count, london.ward_count) == (33, 704)
        assert london.replaced_set_id is None

    async def test_every_ward_is_stored_with_its_borough(
        self, london_session: AsyncSession, london: ImportSummary
    ) -> None:
        wards = await london_session.scalar(
            select(func.count()).where(Ward.set_id == london.id, Ward.code.like("E05%"))
        )
        boroughs = await BoundaryService(london_session).list_boroughs()

        assert wards == 704
        assert len(boroughs) == 33
        by_name = {b.name: b for b in boroughs}
        assert by_name["City of London"].ward_count == 25
        assert by_name["Westminster"].ward_count == 18
        assert sum(b.ward_count for b in boroughs) == 704

    async def test_search_finds_st_jamess_in_westminster(
        self, london_session: AsyncSession
    ) -> None:
        found = await BoundaryService(london_session).search_wards(
            query="st james", borough_code="E09000033", limit=5
        )

        assert [(w.code, w.name, w.borough_name) for w in found] == [
            ("E05013806", "St James's", "Westminster")
        ]
        min_lon, min_lat, max_lon, max_lat = found[0].bbox
        # SW1A 1AA (Buckingham Palace) is in St James's.
        assert min_lon < -0.141588 < max_lon and min_lat < 51.501009 < max_lat

    async def test_ward_detail_has_its_geometry(self, london_session: AsyncSession) -> None:
        ward = await BoundaryService(london_session).get_ward("E05013806")
        assert ward.geometry["type"] in ("Polygon", "MultiPolygon")
        assert ward.borough_code == "E09000033"
