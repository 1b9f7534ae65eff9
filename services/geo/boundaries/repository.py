"""Every SQL statement about boundary sets, boroughs and wards."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ScalarSelect

from services.geo.boundaries.validation import Area
from services.geo.models import Borough, BoundarySet, Ward, WardNeighbour

# Two imports at once would each retire the current set and then collide on the one-current
# index; they queue on this lock instead (held until the importing transaction ends).
_IMPORT_LOCK_ID = zlib.crc32(b"tawny-geo:boundary-import")
NEIGHBOUR_CHUNK = 5000


# A result row of any shape: these rows are turned into schemas straight away by the service.
AnyRow = Row[*tuple[Any, ...]]


def _current_set_id() -> ScalarSelect[uuid.UUID]:
    return select(BoundarySet.id).where(BoundarySet.is_current).scalar_subquery()


def _area_row(set_id: uuid.UUID, area: Area) -> dict[str, Any]:
    min_lon, min_lat, max_lon, max_lat = area.bbox
    return {
        "set_id": set_id,
        "code": area.code,
        "name": area.name,
        "geometry": area.geometry,
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
    }


_WARD_SUMMARY_COLUMNS = (
    Ward.code,
    Ward.name,
    Ward.borough_code,
    Borough.name.label("borough_name"),
    Ward.min_lon,
    Ward.min_lat,
    Ward.max_lon,
    Ward.max_lat,
)
_WARD_BOROUGH_JOIN = and_(Borough.set_id == Ward.set_id, Borough.code == Ward.borough_code)


class BoundaryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_imports(self) -> None:
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": _IMPORT_LOCK_ID}
        )

    async def retire_current_set(self) -> uuid.UUID | None:
        """Mark the current set as no longer current; returns its id."""
        retired: uuid.UUID | None = await self._session.scalar(
            update(BoundarySet)
            .where(BoundarySet.is_current)
            .values(is_current=False)
            .returning(BoundarySet.id)
        )
        return retired

    async def add_boundary_set(self, boundary_set: BoundarySet) -> None:
        self._session.add(boundary_set)
        await self._session.flush()

    async def insert_boroughs(self, set_id: uuid.UUID, boroughs: Sequence[Area]) -> None:
        await self._session.execute(insert(Borough), [_area_row(set_id, area) for area in boroughs])

    async def insert_wards(self, set_id: uuid.UUID, wards: Sequence[Area]) -> None:
        await self._session.execute(
            insert(Ward),
            [{**_area_row(set_id, area), "borough_code": area.borough_code} for area in wards],
        )

    async def search_current_wards(
        self, *, query: str | None, borough_code: str | None, limit: int
    ) -> Sequence[AnyRow]:
        """Wards of the current set whose name contains ``query`` (any case); names that
        start with it come first."""
        statement = (
            select(*_WARD_SUMMARY_COLUMNS)
            .join(Borough, _WARD_BOROUGH_JOIN)
            .where(Ward.set_id == _current_set_id())
        )
        order: list[Any] = []
        if query:
            statement = statement.where(Ward.name.icontains(query, autoescape=True))
            order.append(Ward.name.istartswith(query, autoescape=True).desc())
        if borough_code:
            statement = statement.where(Ward.borough_code == borough_code)
        statement = statement.order_by(*order, Ward.name, Ward.code).limit(limit)
        return (await self._session.execute(statement)).all()

    async def get_current_ward(self, code: str) -> AnyRow | None:
        return (
            await self._session.execute(
                select(*_WARD_SUMMARY_COLUMNS, Ward.set_id, Ward.geometry)
                .join(Borough, _WARD_BOROUGH_JOIN)
                .where(Ward.set_id == _current_set_id(), Ward.code == code)
            )
        ).one_or_none()

    async def current_ward_names(self, codes: Sequence[str]) -> dict[str, str]:
        """The names of those of ``codes`` that are wards of the current set."""
        if not codes:
            return {}
        rows = await self._session.execute(
            select(Ward.code, Ward.name).where(
                Ward.set_id == _current_set_id(), Ward.code.in_(set(codes))
            )
        )
        return {code: name for code, name in rows}

    async def list_current_boroughs(self) -> Sequence[AnyRow]:
        ward_counts = (
            select(Ward.borough_code, func.count().label("ward_count"))
            .where(Ward.set_id == _current_set_id())
            .group_by(Ward.borough_code)
            .subquery()
        )
        statement = (
            select(
                Borough.code,
                Borough.name,
                func.coalesce(ward_counts.c.ward_count, 0).label("ward_count"),
                Borough.min_lon,
                Borough.min_lat,
                Borough.max_lon,
                Borough.max_lat,
            )
            .outerjoin(ward_counts, ward_counts.c.borough_code == Borough.code)
            .where(Borough.set_id == _current_set_id())
            .order_by(Borough.name)
        )
        rows: Sequence[AnyRow] = (await self._session.execute(statement)).all()
        return rows

    async def current_set_id(self) -> uuid.UUID | None:
        set_id: uuid.UUID | None = await self._session.scalar(
            select(BoundarySet.id).where(BoundarySet.is_current)
        )
        return set_id

    async def ward_rows(self, set_id: uuid.UUID) -> Sequence[AnyRow]:
        """(code, name, borough_code, geometry) of every ward of a set."""
        return (
            await self._session.execute(
                select(Ward.code, Ward.name, Ward.borough_code, Ward.geometry)
                .where(Ward.set_id == set_id)
                .order_by(Ward.code)
            )
        ).all()

    async def borough_rows(self, set_id: uuid.UUID) -> Sequence[AnyRow]:
        """(code, name, geometry) of every borough of a set."""
        return (
            await self._session.execute(
                select(Borough.code, Borough.name, Borough.geometry)
                .where(Borough.set_id == set_id)
                .order_by(Borough.code)
            )
        ).all()

    async def insert_neighbours(self, set_id: uuid.UUID, pairs: Sequence[tuple[str, str]]) -> None:
        for start in range(0, len(pairs), NEIGHBOUR_CHUNK):
            await self._session.execute(
                insert(WardNeighbour),
                [
                    {"set_id": set_id, "ward_code": a, "neighbour_code": b}
                    for a, b in pairs[start : start + NEIGHBOUR_CHUNK]
                ],
            )

    async def all_neighbours(self, set_id: uuid.UUID) -> dict[str, list[str]]:
        rows = await self._session.execute(
            select(WardNeighbour.ward_code, WardNeighbour.neighbour_code)
            .where(WardNeighbour.set_id == set_id)
            .order_by(WardNeighbour.ward_code, WardNeighbour.neighbour_code)
        )
        neighbours: dict[str, list[str]] = {}
        for ward_code, neighbour in rows:
            neighbours.setdefault(ward_code, []).append(neighbour)
        return neighbours
