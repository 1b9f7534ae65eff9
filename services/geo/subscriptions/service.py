"""Rules for subscriptions: areas checked before they are stored, ward kinds only for wards of
the current set, one of each kind per ward, up to a limit per member; every write keeps the
resolution indexes (watched_wards, area_cells) in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries.repository import BoundaryRepository
from services.geo.boundaries.service import BoundaryService
from services.geo.config import GeoSettings
from services.geo.errors import (
    AlreadySubscribedError,
    SubscriptionLimitError,
    SubscriptionNotFoundError,
    UnknownWardError,
)
from services.geo.models import Subscription as SubscriptionRow
from services.geo.subscriptions.indexing import SubscriptionIndexer, WatchedArea
from services.geo.subscriptions.repository import SubscriptionRepository
from services.geo.subscriptions.schemas import (
    CircleArea,
    Subscription,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from services.geo.targeting.filters import RANK_SEVERITY, SEVERITY_RANK, categories_mask
from services.geo.targeting.shapes import check_circle, check_polygon
from shared.logs import get_logger

log = get_logger(__name__)


def _checked_area(
    member_id: uuid.UUID,
    body: SubscriptionCreate,
    names: dict[str, str],
    settings: GeoSettings,
) -> tuple[dict[str, Any], WatchedArea]:
    """The subscription's columns and its checked area: a ward of the current set (``names``),
    a circle or a polygon within the limits."""
    values: dict[str, Any] = {"member_id": member_id, "kind": body.kind, "label": body.label}
    if body.ward_code is not None:
        if body.ward_code not in names:
            raise UnknownWardError(body.ward_code)
        values["ward_code"] = body.ward_code
        return values, WatchedArea(body.kind, ward_code=body.ward_code)
    if body.circle is not None:
        circle = check_circle(
            body.circle.lat,
            body.circle.lon,
            body.circle.radius_m,
            max_radius_m=settings.max_circle_radius_m,
        )
        values.update(center_lat=circle.lat, center_lon=circle.lon, radius_m=circle.radius_m)
        return values, WatchedArea("circle", circle=circle)
    assert body.polygon is not None
    geometry = body.polygon.as_geojson()
    polygon = check_polygon(
        geometry,
        max_vertices=settings.max_polygon_vertices,
        max_area_km2=settings.max_subscription_area_km2,
    )
    values["geometry"] = geometry
    return values, WatchedArea("polygon", polygon=polygon)


class SubscriptionService:
    def __init__(self, session: AsyncSession) -> None:
        self._subscriptions = SubscriptionRepository(session)
        self._boundaries = BoundaryRepository(session)
        self._ward_maps = BoundaryService(session)
        self._indexer = SubscriptionIndexer(session)

    async def subscribe(
        self, member_id: uuid.UUID, body: SubscriptionCreate, *, settings: GeoSettings
    ) -> Subscription:
        names = await self._boundaries.current_ward_names(
            [body.ward_code] if body.ward_code else []
        )
        values, area = _checked_area(member_id, body, names, settings)
        if (
            await self._subscriptions.count_for_member(member_id)
            >= settings.max_subscriptions_per_member
        ):
            raise SubscriptionLimitError(settings.max_subscriptions_per_member)
        categories = [str(c) for c in body.categories] if body.categories is not None else None
        return await self._add(values, area, categories, str(body.min_severity), names)

    async def subscribe_many(
        self,
        requests: Sequence[tuple[uuid.UUID, SubscriptionCreate]],
        *,
        settings: GeoSettings,
    ) -> int:
        """Bulk import (seeding a population): ``subscribe``'s checks and index rows for a
        batch, in a few set-based statements instead of several per subscription. Every request
        is checked before anything is written, so one bad request refuses the batch. A member
        who already has the same kind of subscription to the same ward keeps it (not an error:
        an import can be run again). Returns how many subscriptions were added."""
        if not requests:
            return 0
        names = await self._boundaries.current_ward_names(
            sorted({body.ward_code for _, body in requests if body.ward_code})
        )
        checked = [
            (*_checked_area(member_id, body, names, settings), body) for member_id, body in requests
        ]
        adding: dict[uuid.UUID, int] = {}
        for member_id, _ in requests:
            adding[member_id] = adding.get(member_id, 0) + 1
        existing = await self._subscriptions.count_for_members(list(adding))
        for member_id, count in adding.items():
            if existing.get(member_id, 0) + count > settings.max_subscriptions_per_member:
                raise SubscriptionLimitError(settings.max_subscriptions_per_member)
        rows = []
        for values, _, body in checked:
            categories = [str(c) for c in body.categories] if body.categories is not None else None
            rows.append(
                {
                    **values,
                    "id": uuid.uuid4(),
                    "categories": categories,
                    "categories_mask": categories_mask(categories),
                    "min_severity": SEVERITY_RANK[str(body.min_severity)],
                }
            )
        added = set(await self._subscriptions.add_many(rows))
        await self._indexer.write_indexes(
            [
                (row["id"], row["member_id"], area, row["min_severity"], row["categories_mask"])
                for row, (_, area, _) in zip(rows, checked, strict=True)
                if row["id"] in added
            ],
            ward_map=await self._ward_maps.current_ward_map_or_none(),
        )
        log.info("geo.subscriptions.imported", requested=len(requests), created=len(added))
        return len(added)

    async def _add(
        self,
        values: dict[str, Any],
        area: WatchedArea,
        categories: list[str] | None,
        min_severity: str,
        names: dict[str, str],
    ) -> Subscription:
        mask = categories_mask(categories)
        rank = SEVERITY_RANK[min_severity]
        row = await self._subscriptions.add(
            {**values, "categories": categories, "categories_mask": mask, "min_severity": rank},
        )
        if row is None:
            assert area.ward_code is not None
            raise AlreadySubscribedError(area.ward_code)
        await self._indexer.write_index(
            subscription_id=row.id,
            member_id=row.member_id,
            area=area,
            min_severity=rank,
            categories_mask=mask,
            ward_map=await self._ward_maps.current_ward_map_or_none(),
        )
        log.info(
            "geo.subscription.created",
            subscription_id=str(row.id),
            member_id=str(row.member_id),
            kind=row.kind,
            ward_code=row.ward_code,
        )
        return _to_schema(row, names)

    async def set_home_ward(self, member_id: uuid.UUID, ward_code: str) -> Subscription:
        """Make ``ward_code`` the member's home ward, replacing any earlier one (identity's
        ``member.address_verified``)."""
        names = await self._boundaries.current_ward_names([ward_code])
        if ward_code not in names:
            raise UnknownWardError(ward_code)
        existing = await self._subscriptions.home_of(member_id)
        if existing is not None:
            if existing.ward_code == ward_code:
                return _to_schema(existing, names)
            await self._subscriptions.delete_for_member(member_id, existing.id)
        return await self._add(
            {"member_id": member_id, "kind": "home", "ward_code": ward_code, "label": None},
            WatchedArea("home", ward_code=ward_code),
            None,
            "Minor",
            names,
        )

    async def list_mine(self, member_id: uuid.UUID) -> list[Subscription]:
        rows = await self._subscriptions.list_for_member(member_id)
        names = await self._boundaries.current_ward_names(
            [row.ward_code for row in rows if row.ward_code]
        )
        return [_to_schema(row, names) for row in rows]

    async def update(
        self, member_id: uuid.UUID, subscription_id: uuid.UUID, body: SubscriptionUpdate
    ) -> Subscription:
        row = await self._subscriptions.get_for_member(member_id, subscription_id)
        if row is None:
            raise SubscriptionNotFoundError()
        chosen = [str(c) for c in body.categories] if body.categories else row.categories
        categories = None if body.all_categories else chosen
        rank = SEVERITY_RANK[str(body.min_severity)] if body.min_severity else row.min_severity
        await self._subscriptions.update_filters(
            row.id,
            categories=categories,
            min_severity=rank,
            categories_mask=categories_mask(categories),
            label=body.label if body.label is not None else row.label,
        )
        refreshed = await self._subscriptions.get_for_member(member_id, subscription_id)
        assert refreshed is not None
        names = await self._boundaries.current_ward_names(
            [refreshed.ward_code] if refreshed.ward_code else []
        )
        return _to_schema(refreshed, names)

    async def unsubscribe(self, member_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
        if not await self._subscriptions.delete_for_member(member_id, subscription_id):
            raise SubscriptionNotFoundError()
        log.info(
            "geo.subscription.deleted",
            subscription_id=str(subscription_id),
            member_id=str(member_id),
        )

    async def erase_member(self, member_id: uuid.UUID) -> int:
        """Delete every subscription of a member (erasure); their index rows cascade."""
        deleted = await self._subscriptions.delete_all_for_member(member_id)
        log.info("geo.subscriptions.erased", member_id=str(member_id), deleted=deleted)
        return deleted


def _to_schema(row: SubscriptionRow, names: dict[str, str]) -> Subscription:
    circle = None
    if row.kind == "circle":
        assert row.center_lat is not None and row.center_lon is not None
        assert row.radius_m is not None
        circle = CircleArea(lat=row.center_lat, lon=row.center_lon, radius_m=row.radius_m)
    return Subscription(
        id=row.id,
        kind=row.kind,
        ward_code=row.ward_code,
        ward_name=names.get(row.ward_code) if row.ward_code else None,
        circle=circle,
        polygon=row.geometry,
        label=row.label,
        categories=row.categories,
        min_severity=RANK_SEVERITY.get(row.min_severity, "Minor"),
        created_at=row.created_at,
    )
