"""Members watching each ward and borough, counted in geo and handed out as counts only, with
small counts suppressed for the public (an officer's own boroughs' and London-wide staff's
exact, as the alerts' dashboard does). Every ``GEO_DASHBOARD_WATCHERS_INTERVAL_S`` the exact
counts go to alerts (``watchers.counted``), which keeps each month's last for the open data."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.boundaries.repository import BoundaryRepository
from services.geo.config import GeoSettings
from services.geo.errors import NoBoundarySetError, UnknownBoroughError
from services.geo.models import OutboxMessage
from services.geo.watchers.repository import WatcherCountRepository
from services.geo.watchers.schemas import LONDON_CODE, WatcherCount, WatcherCounts
from shared.dashboard import Viewer
from shared.db import session_scope, utcnow
from shared.events import AreaWatchers, WatchersCounted
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "geo"


@dataclass(frozen=True)
class LondonCounts:
    set_id: uuid.UUID
    london: int
    per_borough: dict[str, int]


@dataclass
class LondonCountsCache:
    """London's per-borough counts read every index row: each process keeps them for the
    dashboard's max-age (what a browser or the gateway would keep them for anyway)."""

    counts: LondonCounts | None = None
    expires_at: float = 0.0

    def fresh(self, set_id: uuid.UUID) -> LondonCounts | None:
        if self.counts is None or self.counts.set_id != set_id:
            return None
        return self.counts if time.monotonic() < self.expires_at else None

    def keep(self, counts: LondonCounts, max_age_s: int) -> None:
        self.counts = counts
        self.expires_at = time.monotonic() + max_age_s


class WatcherCountService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        settings: GeoSettings,
        cache: LondonCountsCache,
        viewer: Viewer | None = None,
    ) -> None:
        self._session = session
        self._counts = WatcherCountRepository(session)
        self._boundaries = BoundaryRepository(session)
        self._settings = settings
        self._cache = cache
        self._viewer = viewer or Viewer()

    def _count(
        self, kind: str, code: str, name: str, n: int, borough_code: str | None = None
    ) -> WatcherCount:
        # A borough's own count is exact for its officers, as its wards' are.
        about = code if kind == "borough" else borough_code
        shown = self._viewer.shown(
            n, borough_code=about, suppress_below=self._settings.dashboard_suppress_below
        )
        return WatcherCount(
            area_kind=kind,
            area_code=code,
            name=name,
            borough_code=borough_code,
            members_watching=shown,
            suppressed=shown is None,
        )

    async def _set_id(self) -> uuid.UUID:
        set_id = await self._boundaries.current_set_id()
        if set_id is None:
            raise NoBoundarySetError()
        return set_id

    async def london(self) -> WatcherCounts:
        """London and each of its boroughs (a member watching wards of two boroughs counts
        in both, and once in London)."""
        set_id = await self._set_id()
        counts = self._cache.fresh(set_id)
        if counts is None:
            counts = LondonCounts(
                set_id=set_id,
                london=await self._counts.in_london(set_id),
                per_borough=await self._counts.per_borough(set_id),
            )
            if self._settings.dashboard_max_age_s > 0:
                self._cache.keep(counts, self._settings.dashboard_max_age_s)
        boroughs = await self._counts.boroughs(set_id)
        return WatcherCounts(
            suppress_below=self._settings.dashboard_suppress_below,
            exact_for=self._viewer.exact_for,
            area=self._count("london", LONDON_CODE, "London", counts.london),
            rows=[
                self._count("borough", code, name, counts.per_borough.get(code, 0))
                for code, name in boroughs.items()
            ],
        )

    async def borough(self, borough_code: str) -> WatcherCounts:
        """The borough (distinct members watching any of its wards) and each of its wards."""
        set_id = await self._set_id()
        boroughs = await self._counts.boroughs(set_id)
        if borough_code not in boroughs:
            raise UnknownBoroughError(borough_code)
        wards = await self._counts.wards_of(set_id, borough_code)
        per_ward = await self._counts.per_ward(list(wards))
        return WatcherCounts(
            suppress_below=self._settings.dashboard_suppress_below,
            exact_for=self._viewer.exact_for,
            area=self._count(
                "borough",
                borough_code,
                boroughs[borough_code],
                await self._counts.across(list(wards)),
            ),
            rows=[
                self._count("ward", code, name, per_ward.get(code, 0), borough_code)
                for code, name in wards.items()
            ],
        )

    async def stage_report(self) -> WatchersCounted:
        """Count London, every borough and every ward of the current set afresh, exactly, and
        stage the counts for alerts in the outbox (counts only: no member id leaves geo)."""
        set_id = await self._set_id()
        counted_at = utcnow()
        wards = await self._counts.ward_boroughs(set_id)
        per_ward = await self._counts.per_ward(list(wards))
        per_borough = await self._counts.per_borough(set_id)
        boroughs = await self._counts.boroughs(set_id)
        report = WatchersCounted(
            counted_at=counted_at,
            areas=[
                AreaWatchers(
                    area_kind="london",
                    area_code=LONDON_CODE,
                    borough_code=None,
                    members_watching=await self._counts.in_london(set_id),
                ),
                *(
                    AreaWatchers(
                        area_kind="borough",
                        area_code=code,
                        borough_code=code,
                        members_watching=per_borough.get(code, 0),
                    )
                    for code in boroughs
                ),
                *(
                    AreaWatchers(
                        area_kind="ward",
                        area_code=code,
                        borough_code=borough,
                        members_watching=per_ward.get(code, 0),
                    )
                    for code, borough in wards.items()
                ),
            ],
        )
        await add_event(self._session, OutboxMessage, report, producer=PRODUCER)
        log.info("geo.watchers.reported", areas=len(report.areas))
        return report


async def report_watchers(
    sessions: async_sessionmaker[AsyncSession], settings: GeoSettings
) -> None:
    """The periodic job: one report in one transaction (no boundary set yet: nothing to count)."""
    async with session_scope(sessions) as session:
        service = WatcherCountService(session, settings=settings, cache=LondonCountsCache())
        try:
            await service.stage_report()
        except NoBoundarySetError:
            log.info("geo.watchers.no_boundary_set")
