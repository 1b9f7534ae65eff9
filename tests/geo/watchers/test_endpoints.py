"""The dashboard's members-watching counts: distinct members per ward and borough, recounted
against what tests add; suspended and erased members left out; small counts suppressed for
the public but exact for the borough's officers; cache headers; London's counts kept for the
max-age; the exact counts reported to alerts (watchers.counted) through the outbox."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.config import GeoSettings
from services.geo.members.service import MemberLifecycleService
from services.geo.models import OutboxMessage
from services.geo.watchers.schemas import WatcherCounts
from services.geo.watchers.service import LondonCountsCache, WatcherCountService
from shared.db import utcnow
from shared.events import EventEnvelope, WatchersCounted
from tests.geo.factories import subscribe
from tests.support.tokens import auth_header

# The demo geography is the current boundary set.
pytestmark = pytest.mark.usefixtures("demo_set")

BOROUGH = "E09999991"  # the demo geography's borough
WARDS = ["E05999991", "E05999992", "E05999993", "E05999994"]


def exact(settings: GeoSettings) -> GeoSettings:
    """Settings under which no count is suppressed (1 is the least threshold)."""
    return settings.model_copy(update={"dashboard_suppress_below": 1})


async def borough_counts(
    sessions: async_sessionmaker[AsyncSession], settings: GeoSettings
) -> dict[str, int]:
    async with sessions() as session:
        counts = await WatcherCountService(
            session, settings=exact(settings), cache=LondonCountsCache()
        ).borough(BOROUGH)
    found = {row.area_code: row.members_watching for row in [counts.area, *counts.rows]}
    assert None not in found.values()
    return {code: int(n or 0) for code, n in found.items()}


def added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {code: after[code] - before[code] for code in after}


class TestCounts:
    async def test_distinct_members_per_ward_and_borough(
        self, sessions: async_sessionmaker[AsyncSession], settings: GeoSettings
    ) -> None:
        before = await borough_counts(sessions, settings)
        two_wards, one_ward, twice = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with sessions() as session, session.begin():
            await subscribe(session, two_wards, WARDS[0], WARDS[1])
            await subscribe(session, one_ward, WARDS[0])
            # A ward subscription and a home in the same ward: one member watching it.
            await subscribe(session, twice, WARDS[2])
            await subscribe(session, twice, WARDS[2], kind="home")

        after = await borough_counts(sessions, settings)

        assert added(before, after) == {
            BOROUGH: 3,
            WARDS[0]: 2,
            WARDS[1]: 1,
            WARDS[2]: 1,
            WARDS[3]: 0,
        }

    async def test_suspended_and_erased_members_are_not_counted(
        self, sessions: async_sessionmaker[AsyncSession], settings: GeoSettings
    ) -> None:
        suspended, erased = uuid.uuid4(), uuid.uuid4()
        before = await borough_counts(sessions, settings)
        async with sessions() as session, session.begin():
            await subscribe(session, suspended, WARDS[3])
            await subscribe(session, erased, WARDS[3])
        assert (await borough_counts(sessions, settings))[WARDS[3]] == before[WARDS[3]] + 2

        async with sessions() as session, session.begin():
            lifecycle = MemberLifecycleService(session)
            await lifecycle.suspend(suspended, at=utcnow())
            await lifecycle.erase(erased)

        assert await borough_counts(sessions, settings) == before

        async with sessions() as session, session.begin():
            await MemberLifecycleService(session).reinstate(suspended)
        assert (await borough_counts(sessions, settings))[WARDS[3]] == before[WARDS[3]] + 1

    async def test_london_counts_each_member_once_per_borough_and_keeps_them(
        self, sessions: async_sessionmaker[AsyncSession], settings: GeoSettings
    ) -> None:
        kept = settings.model_copy(
            update={"dashboard_suppress_below": 1, "dashboard_max_age_s": 300}
        )
        cache = LondonCountsCache()
        async with sessions() as session:
            london = await WatcherCountService(session, settings=kept, cache=cache).london()
        demo = next(row for row in london.rows if row.area_code == BOROUGH)
        assert demo.members_watching == (await borough_counts(sessions, settings))[BOROUGH]

        async with sessions() as session, session.begin():
            await subscribe(session, uuid.uuid4(), WARDS[1])
        async with sessions() as session:
            again = await WatcherCountService(session, settings=kept, cache=cache).london()
            fresh = await WatcherCountService(
                session, settings=kept, cache=LondonCountsCache()
            ).london()
        # Within the max-age the process answers from what it counted.
        assert again == london
        assert fresh.area.members_watching == (london.area.members_watching or 0) + 1


class TestPublicEndpoints:
    async def test_small_counts_are_suppressed_as_the_alerts_dashboard_does(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: GeoSettings,
    ) -> None:
        # Eleven members in one ward and one in another: one count over the threshold, one under.
        async with sessions() as session, session.begin():
            for _ in range(settings.dashboard_suppress_below + 1):
                await subscribe(session, uuid.uuid4(), WARDS[0])
            await subscribe(session, uuid.uuid4(), WARDS[1])
        counts = await borough_counts(sessions, settings)

        response = await client.get(f"/dashboard/watchers/{BOROUGH}")

        assert response.status_code == 200, response.text
        shown = WatcherCounts.model_validate(response.json())
        below = settings.dashboard_suppress_below
        assert shown.suppress_below == below
        for row in [shown.area, *shown.rows]:
            n = counts[row.area_code]
            public = n if n == 0 or n >= below else None
            assert (row.members_watching, row.suppressed) == (public, public is None)
        assert [row.area_code for row in shown.rows] == sorted(
            WARDS, key=lambda code: next(r.name for r in shown.rows if r.area_code == code)
        )

    async def test_everyone_may_cache_them_and_revalidate(self, client: httpx.AsyncClient) -> None:
        for path in ("/dashboard/watchers", f"/dashboard/watchers/{BOROUGH}"):
            response = await client.get(path)
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == "public, max-age=0"
            again = await client.get(path, headers={"If-None-Match": response.headers["etag"]})
            assert again.status_code == 304
            assert again.headers["etag"] == response.headers["etag"]

    async def test_london_names_every_borough(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/dashboard/watchers")

        assert response.status_code == 200, response.text
        body = WatcherCounts.model_validate(response.json())
        assert body.area.area_kind == "london"
        assert BOROUGH in {row.area_code for row in body.rows}

    async def test_an_unknown_or_malformed_borough_is_a_problem(
        self, client: httpx.AsyncClient
    ) -> None:
        unknown = await client.get("/dashboard/watchers/E09000099")
        malformed = await client.get("/dashboard/watchers/E05999991")

        assert unknown.status_code == 422
        assert unknown.headers["content-type"] == "application/problem+json"
        assert malformed.status_code == 422

    async def test_the_boroughs_officers_see_its_counts_exactly_and_privately(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: GeoSettings,
    ) -> None:
        # One member in a ward nobody else watches in this test: under the threshold.
        async with sessions() as session, session.begin():
            await subscribe(session, uuid.uuid4(), WARDS[3])
        counts = await borough_counts(sessions, settings)
        own = auth_header(roles=["officer"], member_id=uuid.uuid4(), area_boroughs=[BOROUGH])
        elsewhere = auth_header(
            roles=["officer"], member_id=uuid.uuid4(), area_boroughs=["E09000001"]
        )
        admin = auth_header(roles=["platform_admin"], member_id=uuid.uuid4())

        mine = await client.get(f"/dashboard/watchers/{BOROUGH}", headers=own)
        theirs = await client.get(f"/dashboard/watchers/{BOROUGH}", headers=elsewhere)
        london = await client.get("/dashboard/watchers", headers=own)
        everything = await client.get("/dashboard/watchers", headers=admin)

        exact = WatcherCounts.model_validate(mine.json())
        assert exact.exact_for == "own_boroughs"
        assert {row.area_code: row.members_watching for row in [exact.area, *exact.rows]} == counts
        assert mine.headers["cache-control"] == "private, no-store"
        below = settings.dashboard_suppress_below
        shown = WatcherCounts.model_validate(theirs.json())
        for row in [shown.area, *shown.rows]:
            n = counts[row.area_code]
            assert row.members_watching == (n if n == 0 or n >= below else None)
        # London's own count is exact only London-wide; the officer's borough's row is exact.
        in_london = WatcherCounts.model_validate(london.json())
        demo = next(row for row in in_london.rows if row.area_code == BOROUGH)
        assert demo.members_watching == counts[BOROUGH]
        london_wide = WatcherCounts.model_validate(everything.json())
        assert london_wide.exact_for == "london"
        assert london_wide.area.suppressed is False
        assert (
            await client.get("/dashboard/watchers", headers={"Authorization": "Bearer x"})
        ).status_code == 401


class TestReportToAlerts:
    async def test_the_exact_counts_of_every_area_are_staged_for_alerts(
        self, sessions: async_sessionmaker[AsyncSession], settings: GeoSettings
    ) -> None:
        async with sessions() as session, session.begin():
            await subscribe(session, uuid.uuid4(), WARDS[2])
        counts = await borough_counts(sessions, settings)

        async with sessions() as session, session.begin():
            staged = await WatcherCountService(
                session, settings=settings, cache=LondonCountsCache()
            ).stage_report()

        async with sessions() as session:
            row = await session.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.key == staged.partition_key())
                .order_by(OutboxMessage.position.desc())
                .limit(1)
            )
        assert row is not None
        sent = EventEnvelope.model_validate(row.envelope).parse_payload()
        assert isinstance(sent, WatchersCounted)
        assert sent.counted_at == staged.counted_at
        by_area = {(a.area_kind, a.area_code): a for a in sent.areas}
        assert by_area[("borough", BOROUGH)].members_watching == counts[BOROUGH]
        for ward in WARDS:
            assert by_area[("ward", ward)].members_watching == counts[ward]
            assert by_area[("ward", ward)].borough_code == BOROUGH
        assert by_area[("london", "E12000007")].members_watching >= counts[BOROUGH]
