"""Rules for boundary sets: an import is checked whole, written whole, then made current."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries import repository
from services.geo.boundaries.schemas import (
    BoroughSummary,
    FeatureCollection,
    ImportSummary,
    WardDetail,
    WardSummary,
)
from services.geo.boundaries.validation import ImportLimits, check_boundaries
from services.geo.errors import WardNotFoundError
from services.geo.models import BoundarySet
from shared.logs import get_logger

log = get_logger(__name__)

WRITE_CHUNK = 500

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    pass


async def import_boundary_set(
    session: AsyncSession,
    *,
    name: str,
    boroughs: FeatureCollection,
    wards: FeatureCollection,
    limits: ImportLimits | None,
    progress: Progress = quiet,
) -> ImportSummary:
    """Check, store and make current a new boundary set, in the caller's transaction.

    Raises BoundarySetRefusedError / BoundarySetTooLargeError before writing anything.
    """
    started = time.perf_counter()
    progress(f"checking {len(boroughs.features)} boroughs and {len(wards.features)} wards")
    # Shapely's checks are CPU work: keep the event loop free for health checks meanwhile.
    checked = await asyncio.to_thread(check_boundaries, boroughs, wards, limits)
    progress(f"checked: {checked.vertex_count} vertices, every geometry valid")

    await repository.lock_imports(session)
    replaced = await repository.retire_current_set(session)
    boundary_set = BoundarySet(
        name=name,
        is_current=True,
        borough_count=len(checked.boroughs),
        ward_count=len(checked.wards),
        vertex_count=checked.vertex_count,
    )
    await repository.add_boundary_set(session, boundary_set)
    writes = (
        ("boroughs", checked.boroughs, repository.insert_boroughs),
        ("wards", checked.wards, repository.insert_wards),
    )
    for label, areas, insert in writes:
        for start in range(0, len(areas), WRITE_CHUNK):
            chunk = areas[start : start + WRITE_CHUNK]
            await insert(session, boundary_set.id, chunk)
            progress(f"wrote {label} {start + len(chunk)}/{len(areas)}")
    summary = ImportSummary(
        id=boundary_set.id,
        name=boundary_set.name,
        imported_at=boundary_set.imported_at,
        borough_count=boundary_set.borough_count,
        ward_count=boundary_set.ward_count,
        vertex_count=boundary_set.vertex_count,
        replaced_set_id=replaced,
    )
    log.info(
        "geo.boundaries.imported",
        set_id=str(boundary_set.id),
        name=name,
        boroughs=summary.borough_count,
        wards=summary.ward_count,
        vertices=summary.vertex_count,
        replaced_set_id=str(replaced) if replaced else None,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return summary


async def search_wards(
    session: AsyncSession, *, query: str | None, borough_code: str | None, limit: int
) -> list[WardSummary]:
    rows = await repository.search_current_wards(
        session, query=query, borough_code=borough_code, limit=limit
    )
    return [
        WardSummary(
            code=row.code,
            name=row.name,
            borough_code=row.borough_code,
            borough_name=row.borough_name,
            bbox=(row.min_lon, row.min_lat, row.max_lon, row.max_lat),
        )
        for row in rows
    ]


async def get_ward(session: AsyncSession, code: str) -> WardDetail:
    row = await repository.get_current_ward(session, code)
    if row is None:
        raise WardNotFoundError(code)
    return WardDetail(
        code=row.code,
        name=row.name,
        borough_code=row.borough_code,
        borough_name=row.borough_name,
        bbox=(row.min_lon, row.min_lat, row.max_lon, row.max_lat),
        boundary_set_id=row.set_id,
        geometry=row.geometry,
    )


async def list_boroughs(session: AsyncSession) -> list[BoroughSummary]:
    return [
        BoroughSummary(
            code=row.code,
            name=row.name,
            ward_count=row.ward_count,
            bbox=(row.min_lon, row.min_lat, row.max_lon, row.max_lat),
        )
        for row in await repository.list_current_boroughs(session)
    ]
