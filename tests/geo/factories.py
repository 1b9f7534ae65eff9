"""Plain helpers that make test data: unique per call, so tests never depend on each other."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.demo import demo_paths
from services.geo.models import Subscription
from services.geo.subscriptions.indexing import SubscriptionIndexer, WatchedArea
from services.geo.targeting.filters import categories_mask
from services.geo.targeting.wardmap import WardMap
from shared.events import AlertContent, AlertPublished
from shared.settings import ServiceSettings
from tests.support.kafka import topic_reader
from tests.support.waiting import eventually

PROBLEM_JSON = "application/problem+json"


def unique_ward_code() -> str:
    """A well-formed code that no boundary set has: audience tests own their wards outright."""
    return f"T{uuid.uuid4().int % 10**8:08d}"


def demo_collections() -> tuple[dict[str, Any], dict[str, Any]]:
    """(boroughs, wards) of the demo geography as JSON documents, fresh copies each call."""
    wards_path, boroughs_path = demo_paths()
    return _load(boroughs_path), _load(wards_path)


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return copy.deepcopy(document)


def square(min_lon: float, min_lat: float, size: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [min_lon, min_lat],
                [min_lon + size, min_lat],
                [min_lon + size, min_lat + size],
                [min_lon, min_lat + size],
                [min_lon, min_lat],
            ]
        ],
    }


def bow_tie() -> dict[str, Any]:
    """A self-intersecting ring: its edges cross at (-0.13, 51.505)."""
    return {
        "type": "Polygon",
        "coordinates": [
            [[-0.14, 51.50], [-0.12, 51.51], [-0.12, 51.50], [-0.14, 51.51], [-0.14, 51.50]]
        ],
    }


def alert_published(
    target_ward_codes: list[str],
    alert_id: uuid.UUID | None = None,
    *,
    category: str = "theft_from_motor_vehicle",
    severity: str = "Moderate",
) -> AlertPublished:
    return AlertPublished(
        content=AlertContent(
            alert_id=alert_id or uuid.uuid4(),
            headline="Moped thefts around the station",
            body="Lock your moped and use a ground anchor.",
            category=category,
            severity=severity,
            urgency="Expected",
            sender_name="Met Police, Demo Borough SNT",
            sent_at=datetime.now(UTC),
        ),
        target_ward_codes=target_ward_codes,
    )


async def subscribe(
    session: AsyncSession,
    member_id: uuid.UUID,
    *ward_codes: str,
    kind: str = "ward",
    categories: list[str] | None = None,
    min_severity: int = 1,
) -> None:
    """Ward subscriptions written straight to the tables (with their index rows), so that
    tests may use wards of no boundary set."""
    for ward_code in ward_codes:
        await add_area(
            session,
            member_id,
            WatchedArea(kind, ward_code=ward_code),
            categories=categories,
            min_severity=min_severity,
        )


async def add_area(
    session: AsyncSession,
    member_id: uuid.UUID,
    area: WatchedArea,
    *,
    categories: list[str] | None = None,
    min_severity: int = 1,
    ward_map: WardMap | None = None,
) -> uuid.UUID:
    mask = categories_mask(categories)
    row = Subscription(
        member_id=member_id,
        kind=area.kind,
        ward_code=area.ward_code,
        center_lat=area.circle.lat if area.circle else None,
        center_lon=area.circle.lon if area.circle else None,
        radius_m=area.circle.radius_m if area.circle else None,
        geometry=mapping(area.polygon) if area.polygon is not None else None,
        categories=categories,
        categories_mask=mask,
        min_severity=min_severity,
    )
    session.add(row)
    await session.flush()
    await SubscriptionIndexer(session).write_index(
        subscription_id=row.id,
        member_id=member_id,
        area=area,
        min_severity=min_severity,
        categories_mask=mask,
        ward_map=ward_map,
    )
    return row.id


async def read_topic(
    settings: ServiceSettings,
    topic: str,
    *,
    keep: Callable[[dict[str, Any]], bool],
    wanted: int,
) -> list[dict[str, Any]]:
    """The envelopes on the service's ``topic`` (from the start) that ``keep`` accepts, once
    ``wanted`` of them arrived."""
    consumer = topic_reader(settings, topic)
    await consumer.start()
    found: list[dict[str, Any]] = []

    async def all_wanted() -> list[dict[str, Any]] | None:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            for record in records:
                # The service's tests put malformed records on its topics on purpose.
                try:
                    envelope = json.loads(record.value)
                except ValueError:
                    continue
                if isinstance(envelope, dict) and keep(envelope):
                    found.append(envelope)
        return found if len(found) >= wanted else None

    try:
        return await eventually(all_wanted)
    finally:
        await consumer.stop()
