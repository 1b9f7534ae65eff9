"""Members watching each ward and borough, counted in geo and handed out as counts only, with
small counts suppressed for the public. Reads only."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries.repository import BoundaryRepository
from services.geo.config import GeoSettings
from services.geo.errors import NoBoundarySetError, UnknownBoroughError
from services.geo.watchers.repository import WatcherCountRepository
from services.geo.watchers.schemas import LONDON_CODE, WatcherCount, WatcherCounts


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
        self, session: AsyncSession, *, settings: GeoSettings, cache: LondonCountsCache
    ) -> None:
        self._counts = WatcherCountRepository(session)
        self._boundaries = BoundaryRepository(session)
        self._settings = settings
        self._cache = cache

    def _public(self, n: int) -> int | None:
        """As the alerts' dashboard: 0 and counts from the threshold up are exact."""
        return n if n == 0 or n >= self._settings.dashboard_suppress_below else None

    def _count(
        self, kind: str, code: str, name: str, n: int, borough_code: str | None = None
    ) -> WatcherCount:
        shown = self._public(n)
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
