"""Resolution of every target kind against every subscription kind, on two boroughs side by
side (see conftest.py), in one rolled-back transaction per test."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience.service import AudienceService, Target
from services.geo.boundaries.schemas import ImportSummary
from services.geo.models import AlertRecipientSet, OutboxMessage, Subscription
from services.geo.subscriptions.indexing import WatchedArea
from services.geo.targeting.shapes import Circle, TargetShapes, check_polygon
from services.geo.targeting.wardmap import WardMap
from shared.events import AlertContent, AlertPublished, RecipientBatch, TargetCircle
from tests.geo.audience.conftest import (
    ALDER,
    BIRCH,
    BOROUGH_LINE_LON,
    CEDAR,
    DAMSON,
    EAST,
    WEST,
)
from tests.geo.factories import add_area, alert_published, square

MINOR, MODERATE, SEVERE, EXTREME = 1, 2, 3, 4
ALL = -1
METRES_PER_DEGREE_LON = 111_195 * math.cos(math.radians(51.505))


def east_of(lon: float, metres: float) -> float:
    return lon + metres / METRES_PER_DEGREE_LON


async def members(
    session: AsyncSession, target: Target, *, rank: int = MINOR, bit: int = ALL
) -> set[uuid.UUID]:
    resolution = await AudienceService(session).resolve(target, rank=rank, bit=bit)
    packed = resolution.packed
    return {uuid.UUID(bytes=packed[i : i + 16]) for i in range(0, len(packed), 16)}


async def watcher(
    session: AsyncSession, ward_map: WardMap, area: WatchedArea, **filters: Any
) -> uuid.UUID:
    member = uuid.uuid4()
    await add_area(session, member, area, ward_map=ward_map, **filters)
    return member


def ward(code: str, kind: str = "ward") -> WatchedArea:
    return WatchedArea(kind, ward_code=code)


def circle(lat: float, lon: float, radius_m: float) -> WatchedArea:
    return WatchedArea("circle", circle=Circle(lat, lon, radius_m))


class TestNeighbours:
    def test_computed_on_import_across_the_borough_line(self, ward_map: WardMap) -> None:
        assert ward_map.neighbours == {
            ALDER: [BIRCH],
            BIRCH: [ALDER, CEDAR],
            CEDAR: [BIRCH, DAMSON],
            DAMSON: [CEDAR],
        }


class TestWardAndBoroughTargets:
    async def test_wards_on_both_sides_of_a_borough_line(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        in_birch = await watcher(geo_session, ward_map, ward(BIRCH))
        in_cedar = await watcher(geo_session, ward_map, ward(CEDAR, kind="home"))
        birch_and_neighbours = await watcher(geo_session, ward_map, ward(BIRCH, "neighbours"))
        in_damson = await watcher(geo_session, ward_map, ward(DAMSON))

        west = await members(geo_session, Target(borough_codes=(WEST,)))
        east = await members(geo_session, Target(borough_codes=(EAST,)))
        cedar = await members(geo_session, Target(ward_codes=(CEDAR,)))

        assert west == {in_birch, birch_and_neighbours}
        # Birch's neighbours include Cedar, across the line: an East alert reaches them.
        assert east == {in_cedar, birch_and_neighbours, in_damson}
        assert cedar == {in_cedar, birch_and_neighbours}

    async def test_a_circle_is_reached_by_the_wards_it_crosses_into(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        # Centred in Birch 50 m from the borough line, 150 m round: it reaches into Cedar.
        crossing = await watcher(
            geo_session, ward_map, circle(51.505, east_of(BOROUGH_LINE_LON, -50), 150)
        )
        inside_birch = await watcher(
            geo_session, ward_map, circle(51.505, east_of(BOROUGH_LINE_LON, -400), 150)
        )

        assert await members(geo_session, Target(ward_codes=(CEDAR,))) == {crossing}
        assert await members(geo_session, Target(borough_codes=(WEST,))) == {crossing, inside_birch}
        assert await members(geo_session, Target(ward_codes=(DAMSON,))) == set()


class TestDrawnTargets:
    async def test_a_circle_crossing_ward_edges_reaches_the_wards_it_touches(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        watchers = {
            code: await watcher(geo_session, ward_map, ward(code))
            for code in (ALDER, BIRCH, CEDAR, DAMSON)
        }
        # On the borough line, 300 m round: Birch and Cedar only (each ward is ~694 m wide).
        target = Target(shapes=TargetShapes(circles=[Circle(51.505, BOROUGH_LINE_LON, 300)]))

        assert await members(geo_session, target) == {watchers[BIRCH], watchers[CEDAR]}

    async def test_watched_circles_are_tested_exactly(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        centre = east_of(-0.115, 0)
        touching = await watcher(geo_session, ward_map, circle(51.505, east_of(centre, -590), 300))
        missing = await watcher(geo_session, ward_map, circle(51.505, east_of(centre, -620), 300))
        overlapping = await watcher(geo_session, ward_map, circle(51.5052, centre, 100))
        target = Target(shapes=TargetShapes(circles=[Circle(51.505, centre, 300)]))

        found = await members(geo_session, target)

        assert touching in found and overlapping in found
        assert missing not in found

    async def test_a_drawn_polygon_target_and_a_drawn_watched_area(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        in_damson = await watcher(geo_session, ward_map, ward(DAMSON))
        in_alder = await watcher(geo_session, ward_map, ward(ALDER))
        drawn = check_polygon(square(-0.105, 51.502, 0.003), max_vertices=100, max_area_km2=10)
        polygon_watcher = await watcher(
            geo_session, ward_map, WatchedArea("polygon", polygon=drawn)
        )
        far_polygon = check_polygon(
            square(-0.139, 51.502, 0.002), max_vertices=100, max_area_km2=10
        )
        far_watcher = await watcher(
            geo_session, ward_map, WatchedArea("polygon", polygon=far_polygon)
        )
        target_polygon = check_polygon(
            square(-0.104, 51.503, 0.002), max_vertices=100, max_area_km2=10
        )

        found = await members(geo_session, Target(shapes=TargetShapes(polygons=[target_polygon])))

        assert in_damson in found and polygon_watcher in found
        assert in_alder not in found and far_watcher not in found


class TestOncePerMember:
    async def test_overlapping_areas_count_once(
        self, geo_session: AsyncSession, ward_map: WardMap, two_borough_set: ImportSummary
    ) -> None:
        member = uuid.uuid4()
        for area in (
            ward(ALDER, "home"),
            ward(ALDER, "neighbours"),
            ward(BIRCH),
            circle(51.505, -0.135, 500),
        ):
            await add_area(geo_session, member, area, ward_map=ward_map)
        alert = alert_published([ALDER, BIRCH])

        audience = await AudienceService(geo_session).resolve_audience(
            uuid.uuid4(), alert, batch_size=10
        )

        assert audience.recipient_count == 1
        assert audience.boundary_set_id == two_borough_set.id
        target = Target(
            ward_codes=(ALDER,), shapes=TargetShapes(circles=[Circle(51.505, -0.135, 300)])
        )
        assert await members(geo_session, target) == {member}
        shown = await AudienceService(geo_session).preview(target, category=None, severity=None)
        assert shown.recipients == 1
        assert {w.code: w.recipients for w in shown.wards} == {ALDER: 1}


class TestFilters:
    async def test_category_and_severity(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        everything = await watcher(geo_session, ward_map, ward(CEDAR))
        burglary_only = await watcher(geo_session, ward_map, ward(CEDAR), categories=["burglary"])
        severe_only = await watcher(geo_session, ward_map, ward(CEDAR), min_severity=SEVERE)
        severe_circle = await watcher(
            geo_session, ward_map, circle(51.505, -0.115, 200), min_severity=SEVERE
        )

        async def reached(category: str, severity: str, target: Target) -> set[uuid.UUID]:
            alert = alert_published([], severity=severity, category=category)
            audience = await AudienceService(geo_session).resolve_audience(
                uuid.uuid4(),
                alert.model_copy(
                    update={
                        "target_ward_codes": list(target.ward_codes),
                        "target_circles": [
                            TargetCircle(lat=c.lat, lon=c.lon, radius_m=c.radius_m)
                            for c in target.shapes.circles
                        ],
                    }
                ),
                batch_size=100,
            )
            stored = await geo_session.get(AlertRecipientSet, audience.alert_id)
            assert stored is not None
            return {
                uuid.UUID(bytes=stored.members[i : i + 16])
                for i in range(0, len(stored.members), 16)
            }

        by_ward = Target(ward_codes=(CEDAR,))
        by_circle = Target(shapes=TargetShapes(circles=[Circle(51.505, -0.115, 150)]))
        assert await reached("robbery", "Moderate", by_ward) == {everything}
        assert await reached("burglary", "Minor", by_ward) == {everything, burglary_only}
        assert await reached("robbery", "Extreme", by_ward) == {
            everything,
            severe_only,
            severe_circle,
        }
        assert await reached("robbery", "Unknown", by_ward) == {everything}
        assert severe_circle not in await reached("robbery", "Moderate", by_circle)
        assert severe_circle in await reached("robbery", "Severe", by_circle)


class TestUpdates:
    async def test_an_update_and_a_cancel_reach_exactly_the_first_audience(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        first = await watcher(geo_session, ward_map, ward(DAMSON))
        alert = alert_published([DAMSON])
        original = await AudienceService(geo_session).resolve_audience(
            uuid.uuid4(), alert, batch_size=10
        )
        # Afterwards: the first member leaves, someone else arrives.
        for row in (
            await geo_session.scalars(select(Subscription).where(Subscription.member_id == first))
        ).all():
            await geo_session.delete(row)
        await geo_session.flush()
        later = await watcher(geo_session, ward_map, ward(DAMSON))

        results = []
        follow_ups = [_follow_up(alert, msg_type) for msg_type in ("Update", "Cancel")]
        for follow_up in follow_ups:
            audience = await AudienceService(geo_session).resolve_audience(
                uuid.uuid4(), follow_up, batch_size=10
            )
            results.append(audience)
        message_ids = [str(m.content.alert_id) for m in (alert, *follow_ups)]

        assert original.recipient_count == 1 and not original.reused_recipient_set
        assert all(a.reused_recipient_set and a.recipient_count == 1 for a in results)
        batches = [
            RecipientBatch.model_validate(envelope["payload"])
            for envelope in (
                await geo_session.scalars(
                    select(OutboxMessage.envelope)
                    .where(
                        OutboxMessage.envelope["payload"]["content"]["alert_id"].astext.in_(
                            message_ids
                        )
                    )
                    .order_by(OutboxMessage.position)
                )
            ).all()
        ]
        assert [b.content.msg_type for b in batches] == ["Alert", "Update", "Cancel"]
        assert all(b.member_ids == [first] for b in batches)
        assert later not in {m for b in batches for m in b.member_ids}

    async def test_a_fresh_alert_is_resolved_again(
        self, geo_session: AsyncSession, ward_map: WardMap
    ) -> None:
        alert = alert_published([ALDER])
        await AudienceService(geo_session).resolve_audience(uuid.uuid4(), alert, batch_size=10)
        newcomer = await watcher(geo_session, ward_map, ward(ALDER))

        again = await AudienceService(geo_session).resolve_audience(
            uuid.uuid4(), alert, batch_size=10
        )

        assert not again.reused_recipient_set
        stored = await geo_session.get(AlertRecipientSet, alert.content.alert_id)
        assert stored is not None and newcomer.bytes in stored.members


def _follow_up(alert: AlertPublished, msg_type: str) -> AlertPublished:
    """A CAP Update or Cancel: a new message that references the original alert."""
    content = AlertContent(
        **{
            **alert.content.model_dump(),
            "alert_id": uuid.uuid4(),
            "msg_type": msg_type,
            "references": alert.content.alert_id,
        }
    )
    return alert.model_copy(update={"content": content})
