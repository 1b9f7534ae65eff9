"""Rules for boundary sets: an import is checked whole, written whole, then made current."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries.repository import BoundaryRepository
from services.geo.boundaries.schemas import (
    BoroughSummary,
    FeatureCollection,
    ImportSummary,
    WardDetail,
    WardSummary,
)
from services.geo.boundaries.validation import ImportLimits, check_boundaries
from services.geo.errors import NoBoundarySetError, WardNotFoundError
from services.geo.models import BoundarySet
from services.geo.subscriptions.indexing import SubscriptionIndexer
from services.geo.targeting.wardmap import WardMap, neighbour_pairs
from shared.http_caching import strong_etag
from shared.logs import get_logger

log = get_logger(__name__)

WRITE_CHUNK = 500

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    pass


MapLayer = Literal["wards", "boroughs"]


@dataclass(frozen=True)
class MapDocument:
    etag: str
    body: bytes


# Process-wide: a set never changes after its import, so what is built from it is kept.
_WARD_MAPS: dict[uuid.UUID, WardMap] = {}
_WARD_MAP_LOCK = asyncio.Lock()
_MAP_DOCUMENTS: dict[tuple[uuid.UUID, str, float], MapDocument] = {}


class BoundaryService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._boundaries = BoundaryRepository(session)

    async def import_boundary_set(
        self,
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

        await self._boundaries.lock_imports()
        replaced = await self._boundaries.retire_current_set()
        boundary_set = BoundarySet(
            name=name,
            is_current=True,
            borough_count=len(checked.boroughs),
            ward_count=len(checked.wards),
            vertex_count=checked.vertex_count,
        )
        await self._boundaries.add_boundary_set(boundary_set)
        writes = (
            ("boroughs", checked.boroughs, self._boundaries.insert_boroughs),
            ("wards", checked.wards, self._boundaries.insert_wards),
        )
        for label, areas, insert in writes:
            for start in range(0, len(areas), WRITE_CHUNK):
                chunk = areas[start : start + WRITE_CHUNK]
                await insert(boundary_set.id, chunk)
                progress(f"wrote {label} {start + len(chunk)}/{len(areas)}")
        codes = [ward.code for ward in checked.wards]
        pairs = await asyncio.to_thread(
            neighbour_pairs, [shape(ward.geometry) for ward in checked.wards]
        )
        await self._boundaries.insert_neighbours(
            boundary_set.id, [(codes[i], codes[j]) for i, j in pairs]
        )
        progress(f"found {len(pairs) // 2} pairs of neighbouring wards")
        # Subscriptions that depend on ward geometry (neighbours, circles, polygons) now follow
        # the new set, in the same transaction that makes it current.
        ward_map = await self.ward_map(boundary_set.id)
        reindexed = await SubscriptionIndexer(self._session).reindex_for_boundary_set(ward_map)
        progress(f"re-indexed {reindexed} subscriptions that depend on ward boundaries")
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
        self, *, query: str | None, borough_code: str | None, limit: int
    ) -> list[WardSummary]:
        rows = await self._boundaries.search_current_wards(
            query=query, borough_code=borough_code, limit=limit
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

    async def get_ward(self, code: str) -> WardDetail:
        row = await self._boundaries.get_current_ward(code)
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

    async def list_boroughs(self) -> list[BoroughSummary]:
        return [
            BoroughSummary(
                code=row.code,
                name=row.name,
                ward_count=row.ward_count,
                bbox=(row.min_lon, row.min_lat, row.max_lon, row.max_lat),
            )
            for row in await self._boundaries.list_current_boroughs()
        ]

    # --- the current set in memory -----------------------------------------------------------

    async def ward_map(self, set_id: uuid.UUID) -> WardMap:
        """The set's wards, boroughs and neighbours as shapely geometry: built once per
        process and set (a set never changes after its import)."""
        cached = _WARD_MAPS.get(set_id)
        if cached is not None:
            return cached
        async with _WARD_MAP_LOCK:
            cached = _WARD_MAPS.get(set_id)
            if cached is not None:
                return cached
            wards = [
                (row.code, row.name, row.borough_code, row.geometry)
                for row in await self._boundaries.ward_rows(set_id)
            ]
            boroughs = [
                (row.code, row.name, row.geometry)
                for row in await self._boundaries.borough_rows(set_id)
            ]
            neighbours = await self._boundaries.all_neighbours(set_id)
            build = functools.partial(WardMap.from_rows, set_id, wards, boroughs, neighbours)
            ward_map = await asyncio.to_thread(build)
            # Only the newest few sets are ever asked about.
            while len(_WARD_MAPS) >= 4:
                _WARD_MAPS.pop(next(iter(_WARD_MAPS)))
            _WARD_MAPS[set_id] = ward_map
            return ward_map

    async def current_ward_map_or_none(self) -> WardMap | None:
        """The current set's ward map; None before any set was imported."""
        set_id = await self._boundaries.current_set_id()
        return None if set_id is None else await self.ward_map(set_id)

    async def current_ward_map(self) -> WardMap:
        ward_map = await self.current_ward_map_or_none()
        if ward_map is None:
            raise NoBoundarySetError()
        return ward_map

    async def map_document(self, layer: MapLayer, tolerance: float) -> MapDocument:
        """The current set's wards or boroughs as one simplified FeatureCollection, built once
        per set, layer and tolerance. The ETag is a hash of the bytes, so it changes exactly
        when the document does."""
        ward_map = await self.current_ward_map()
        key = (ward_map.set_id, layer, tolerance)
        document = _MAP_DOCUMENTS.get(key)
        if document is None:
            document = await asyncio.to_thread(_build_map_document, ward_map, layer, tolerance)
            if len(_MAP_DOCUMENTS) >= 16:
                _MAP_DOCUMENTS.pop(next(iter(_MAP_DOCUMENTS)))
            _MAP_DOCUMENTS[key] = document
        return document


# --- simplified GeoJSON for the web map ------------------------------------------------------


def _build_map_document(ward_map: WardMap, layer: MapLayer, tolerance: float) -> MapDocument:
    places = ward_map.wards if layer == "wards" else ward_map.boroughs
    geometries = shapely.simplify(
        [place.geometry for place in places], tolerance, preserve_topology=True
    )
    # Six decimals is 0.1 m: more only adds bytes.
    geometries = shapely.set_precision(geometries, 1e-6)
    features = []
    for place, geometry in zip(places, geometries, strict=True):
        properties: dict[str, Any] = {"code": place.code, "name": place.name}
        if place.borough_code is not None:
            properties["borough_code"] = place.borough_code
        features.append(
            {"type": "Feature", "properties": properties, "geometry": mapping(geometry)}
        )
    body = json.dumps(
        {
            "type": "FeatureCollection",
            "boundary_set_id": str(ward_map.set_id),
            "features": features,
        },
        separators=(",", ":"),
    ).encode()
    return MapDocument(etag=strong_etag(body), body=body)
