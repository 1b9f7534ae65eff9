"""Keeping the two resolution indexes in step with subscriptions.

* ``watched_wards``: every ward a subscription's area touches, with its filters. Ward and
  home subscriptions name one ward; ``neighbours`` adds the ward's neighbours in the current
  set; circles and polygons add each ward they intersect (``by_geometry``), so that ward and
  borough targets are answered from this one index.
* ``area_cells``: the compacted H3 cover of circles and polygons, for targets that are
  themselves circles or polygons (see services.geo.targeting.cells).

Ward-shaped subscriptions have no cells: against a drawn target they match through the wards
that the target touches (exactly tested against the ward polygons in memory), which is the
same question asked once per ward instead of once per subscriber.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Polygon, shape
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.subscriptions.repository import SubscriptionRepository
from services.geo.targeting.cells import circle_cover, polygon_cover
from services.geo.targeting.shapes import Circle
from services.geo.targeting.wardmap import WardMap

GEOMETRIC_KINDS = ("circle", "polygon")
REINDEX_CHUNK = 2000


@dataclass(frozen=True)
class WatchedArea:
    """A checked area of one subscription."""

    kind: str
    ward_code: str | None = None
    circle: Circle | None = None
    polygon: Polygon | None = None

    @classmethod
    def of_row(
        cls,
        kind: str,
        ward_code: str | None,
        lat: float | None,
        lon: float | None,
        radius_m: float | None,
        geometry: dict[str, Any] | None,
    ) -> WatchedArea:
        if kind == "circle":
            assert lat is not None and lon is not None and radius_m is not None
            return cls(kind, circle=Circle(lat, lon, radius_m))
        if kind == "polygon":
            assert geometry is not None
            polygon = shape(geometry)
            assert isinstance(polygon, Polygon)
            return cls(kind, polygon=polygon)
        return cls(kind, ward_code=ward_code)


def ward_codes_of(area: WatchedArea, ward_map: WardMap | None) -> list[str]:
    """The wards ``area`` touches; a ward of no current set still counts as itself."""
    if area.kind in ("home", "ward"):
        assert area.ward_code is not None
        return [area.ward_code]
    if area.kind == "neighbours":
        assert area.ward_code is not None
        neighbours = ward_map.neighbours.get(area.ward_code, []) if ward_map else []
        return [area.ward_code, *neighbours]
    if ward_map is None:
        return []
    if area.circle is not None:
        return ward_map.wards_touching_circle(area.circle)
    assert area.polygon is not None
    return ward_map.wards_touching_geometry(area.polygon)


def cell_rows_of(area: WatchedArea) -> list[tuple[int, int, bool]]:
    if area.circle is not None:
        return circle_cover(area.circle).rows()
    if area.polygon is not None:
        return polygon_cover(area.polygon).rows()
    return []


# subscription id, member id, area, minimum severity rank, categories mask
IndexedSubscription = tuple[uuid.UUID, uuid.UUID, WatchedArea, int, int | None]


class SubscriptionIndexer:
    """Writes the resolution index rows of subscriptions (their SQL is the repository's)."""

    def __init__(self, session: AsyncSession) -> None:
        self._subscriptions = SubscriptionRepository(session)

    async def write_index(
        self,
        *,
        subscription_id: uuid.UUID,
        member_id: uuid.UUID,
        area: WatchedArea,
        min_severity: int,
        categories_mask: int | None,
        ward_map: WardMap | None,
    ) -> None:
        await self.write_indexes(
            [(subscription_id, member_id, area, min_severity, categories_mask)],
            ward_map=ward_map,
        )

    async def write_indexes(
        self, subscriptions: Sequence[IndexedSubscription], *, ward_map: WardMap | None
    ) -> None:
        """The index rows of every subscription given, in one statement per table (and
        chunk)."""
        numbers = await self._subscriptions.member_numbers([s[1] for s in subscriptions])
        ward_rows: list[dict[str, Any]] = []
        cell_rows: list[dict[str, Any]] = []
        for subscription_id, member_id, area, min_severity, categories_mask in subscriptions:
            filters = {
                "member_id": member_id,
                "member_no": numbers[member_id],
                "min_severity": min_severity,
                "categories_mask": categories_mask,
            }
            by_geometry = area.kind in GEOMETRIC_KINDS
            ward_rows.extend(
                {
                    "subscription_id": subscription_id,
                    "ward_code": code,
                    "by_geometry": by_geometry,
                    **filters,
                }
                for code in dict.fromkeys(ward_codes_of(area, ward_map))
            )
            circle = area.circle
            cell_rows.extend(
                {
                    "subscription_id": subscription_id,
                    "key": key,
                    "res": res,
                    "interior": interior,
                    "center_lat": circle.lat if circle else None,
                    "center_lon": circle.lon if circle else None,
                    "radius_m": circle.radius_m if circle else None,
                    **filters,
                }
                for key, res, interior in cell_rows_of(area)
            )
        await self._subscriptions.insert_watched_wards(ward_rows)
        await self._subscriptions.insert_area_cells(cell_rows)

    async def reindex_for_boundary_set(self, ward_map: WardMap) -> int:
        """Recompute the ward rows of every subscription whose wards depend on the boundaries
        (neighbours, circles, polygons) against ``ward_map``'s set. Cells do not depend on
        it."""
        await self._subscriptions.delete_boundary_dependent_ward_rows()
        count = await self._subscriptions.insert_neighbour_rows(ward_map.set_id)
        after: uuid.UUID | None = None
        while True:
            chunk = await self._subscriptions.geometric_subscriptions(
                after=after, limit=REINDEX_CHUNK
            )
            if not chunk:
                return count
            rows: list[dict[str, Any]] = []
            for row in chunk:
                area = WatchedArea.of_row(
                    row.kind, None, row.center_lat, row.center_lon, row.radius_m, row.geometry
                )
                rows.extend(
                    {
                        "subscription_id": row.id,
                        "ward_code": code,
                        "by_geometry": True,
                        "member_id": row.member_id,
                        "member_no": row.member_no,
                        "min_severity": row.min_severity,
                        "categories_mask": row.categories_mask,
                    }
                    for code in ward_codes_of(area, ward_map)
                )
            await self._subscriptions.insert_watched_wards(rows)
            count += len(chunk)
            after = chunk[-1].id
