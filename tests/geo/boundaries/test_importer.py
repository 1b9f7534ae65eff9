"""The import command, the importer's core that the dev stack calls, and the demo geography."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.boundaries.importer import import_files
from services.geo.demo import (
    DEMO_BOROUGH_CODE,
    DEMO_WARD_CODES,
    demo_paths,
    london_or_demo_paths,
)
from services.geo.errors import BoundarySetRefusedError
from services.geo.models import BoundarySet, Ward
from tests.geo.conftest import LONDON_DATA, REPO_ROOT
from tests.geo.factories import bow_tie, demo_collections


def run_importer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.geo.boundaries.importer", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def count_sets(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(BoundarySet)) or 0)


class TestDemoGeography:
    def test_demo_paths_are_packaged_files(self) -> None:
        wards, boroughs = demo_paths()
        assert wards.is_file() and boroughs.is_file()
        assert wards.parent == REPO_ROOT / "services" / "geo" / "demo"

    def test_demo_codes_look_like_ons_codes(self) -> None:
        boroughs, wards = demo_collections()
        assert [f["properties"]["code"] for f in boroughs["features"]] == [DEMO_BOROUGH_CODE]
        assert tuple(f["properties"]["code"] for f in wards["features"]) == DEMO_WARD_CODES

    def test_without_a_data_folder_the_demo_is_used(self, tmp_path: Path) -> None:
        assert london_or_demo_paths(None) == demo_paths()
        assert london_or_demo_paths(tmp_path) == demo_paths()

    def test_a_folder_with_both_files_is_used(self, tmp_path: Path) -> None:
        (tmp_path / "wards.geojson").write_text("{}")
        (tmp_path / "boroughs.geojson").write_text("{}")
        assert london_or_demo_paths(tmp_path) == (
            tmp_path / "wards.geojson",
            tmp_path / "boroughs.geojson",
        )

    @pytest.mark.skipif(not LONDON_DATA.is_dir(), reason="no shared London data beside the repo")
    def test_london_folder_is_preferred(self) -> None:
        assert london_or_demo_paths(LONDON_DATA) == (
            LONDON_DATA / "wards.geojson",
            LONDON_DATA / "boroughs.geojson",
        )


class TestImportFiles:
    async def test_import_files_makes_a_new_current_set(
        self, database_url: str, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        wards, boroughs = demo_paths()
        messages: list[str] = []

        summary = await import_files(database_url, wards, boroughs, progress=messages.append)

        assert summary.name == "demo"  # the folder's name
        assert (summary.borough_count, summary.ward_count) == (1, 4)
        assert "wrote wards 4/4" in messages
        async with sessions() as session:
            current = await session.scalar(select(BoundarySet).where(BoundarySet.is_current))
            wards_stored = await session.scalar(
                select(func.count()).where(Ward.set_id == summary.id)
            )
        assert current is not None and current.id == summary.id
        assert wards_stored == 4

    async def test_a_file_that_is_not_geojson_is_refused(
        self, database_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        before = await count_sets(sessions)
        wards, _ = demo_paths()
        not_geojson = tmp_path / "boroughs.geojson"
        not_geojson.write_text(json.dumps({"type": "Topology"}))

        with pytest.raises(BoundarySetRefusedError) as caught:
            await import_files(database_url, wards, not_geojson)

        assert caught.value.problems == [
            "boroughs.geojson: type: Input should be 'FeatureCollection'",
            "boroughs.geojson: features: Field required",
        ]
        assert await count_sets(sessions) == before


class TestImportCommand:
    async def test_imports_with_progress_and_a_one_line_summary(
        self, database_url: str, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        wards, boroughs = demo_paths()
        done = await asyncio.to_thread(
            run_importer,
            "--database-url", database_url,
            "--wards", str(wards),
            "--boroughs", str(boroughs),
            "--name", "demo from the command line",
        )  # fmt: skip

        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("Imported boundary set 'demo from the command line' (")
        assert lines[0].endswith("1 boroughs, 4 wards, 25 vertices; now current")
        assert "[geo-import] checking 1 boroughs and 4 wards" in done.stderr
        assert "[geo-import] wrote wards 4/4" in done.stderr
        async with sessions() as session:
            current = await session.scalar(select(BoundarySet).where(BoundarySet.is_current))
        assert current is not None and current.name == "demo from the command line"

    async def test_invalid_geometry_exits_1_and_stores_nothing(
        self, database_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        before = await count_sets(sessions)
        boroughs, wards = demo_collections()
        wards["features"][0]["geometry"] = bow_tie()
        (tmp_path / "wards.geojson").write_text(json.dumps(wards))
        (tmp_path / "boroughs.geojson").write_text(json.dumps(boroughs))

        done = await asyncio.to_thread(
            run_importer,
            "--database-url", database_url,
            "--wards", str(tmp_path / "wards.geojson"),
            "--boroughs", str(tmp_path / "boroughs.geojson"),
        )  # fmt: skip

        assert done.returncode == 1
        assert done.stdout == ""
        assert "refused: Nothing was imported: 1 problem." in done.stderr
        assert "wards.features[0] (E05999991): the geometry is not valid: Self-intersection" in (
            done.stderr
        )
        assert await count_sets(sessions) == before
