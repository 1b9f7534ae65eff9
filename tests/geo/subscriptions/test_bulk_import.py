"""Bulk import of subscriptions (seeding a population): the one-at-a-time rules, in sets."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries.schemas import ImportSummary
from services.geo.config import GeoSettings
from services.geo.errors import SubscriptionLimitError, UnknownWardError
from services.geo.models import AreaCell, Subscription, WatchedWard
from services.geo.subscriptions.schemas import SubscriptionCreate
from services.geo.subscriptions.service import SubscriptionService


def ward(code: str, **filters: object) -> SubscriptionCreate:
    return SubscriptionCreate.model_validate({"ward_code": code, **filters})


@pytest.fixture(autouse=True)
def _demo_geography(demo_set: ImportSummary) -> None:
    """The demo wards are the current set's."""


class TestSubscribeMany:
    async def test_index_rows_match_one_at_a_time(
        self, session: AsyncSession, settings: GeoSettings
    ) -> None:
        one, many = uuid.uuid4(), uuid.uuid4()
        circle = SubscriptionCreate.model_validate(
            {"kind": "circle", "circle": {"lat": 51.505, "lon": -0.13, "radius_m": 800}}
        )
        bodies = [
            ward("E05999991", categories=["burglary"], min_severity="Severe"),
            SubscriptionCreate.model_validate({"kind": "neighbours", "ward_code": "E05999991"}),
            circle,
        ]
        for body in bodies:
            await SubscriptionService(session).subscribe(one, body, settings=settings)

        added = await SubscriptionService(session).subscribe_many(
            [(many, b) for b in bodies], settings=settings
        )

        assert added == 3
        singly = await SubscriptionService(session).list_mine(one)
        in_bulk = await SubscriptionService(session).list_mine(many)
        assert [s.model_dump(exclude={"id", "created_at"}) for s in in_bulk] == [
            s.model_dump(exclude={"id", "created_at"}) for s in singly
        ]

        async def index_of(member_id: uuid.UUID) -> tuple[list[tuple[object, ...]], int]:
            wards = (
                await session.execute(
                    select(
                        WatchedWard.ward_code,
                        WatchedWard.by_geometry,
                        WatchedWard.min_severity,
                        WatchedWard.categories_mask,
                    ).where(WatchedWard.member_id == member_id)
                )
            ).all()
            cells = len(
                (
                    await session.scalars(select(AreaCell).where(AreaCell.member_id == member_id))
                ).all()
            )
            return sorted(tuple(w) for w in wards), cells

        assert await index_of(many) == await index_of(one)
        numbers = (
            await session.scalars(
                select(WatchedWard.member_no).where(WatchedWard.member_id == many).distinct()
            )
        ).all()
        assert len(numbers) == 1

    async def test_running_again_adds_nothing(
        self, session: AsyncSession, settings: GeoSettings
    ) -> None:
        members = [uuid.uuid4() for _ in range(3)]
        requests = [(m, ward("E05999992")) for m in members]

        assert await SubscriptionService(session).subscribe_many(requests, settings=settings) == 3
        assert await SubscriptionService(session).subscribe_many(requests, settings=settings) == 0
        count = len(
            (
                await session.scalars(
                    select(Subscription).where(Subscription.member_id.in_(members))
                )
            ).all()
        )
        assert count == 3

    async def test_one_bad_request_refuses_the_batch(
        self, session: AsyncSession, settings: GeoSettings
    ) -> None:
        good, bad = uuid.uuid4(), uuid.uuid4()

        with pytest.raises(UnknownWardError):
            await SubscriptionService(session).subscribe_many(
                [(good, ward("E05999991")), (bad, ward("E05000000"))],
                settings=settings,
            )

        assert await SubscriptionService(session).list_mine(good) == []

    async def test_the_limit_per_member_holds(
        self, session: AsyncSession, settings: GeoSettings
    ) -> None:
        member = uuid.uuid4()
        limit = settings.max_subscriptions_per_member
        circles = [
            SubscriptionCreate.model_validate(
                {
                    "kind": "circle",
                    "circle": {"lat": 51.5 + i / 1000, "lon": -0.13, "radius_m": 500},
                }
            )
            for i in range(limit + 1)
        ]

        with pytest.raises(SubscriptionLimitError):
            await SubscriptionService(session).subscribe_many(
                [(member, c) for c in circles], settings=settings
            )
