"""Every SQL statement of the shared provider rate limits. Flushes, never commits: each take is
its own short transaction, so a bucket's row lock is held for one statement's time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import ProviderRateBucket

# Refill since the last take (on the database's clock, read once the row is locked), capped at
# the bucket's size; grant as many whole tokens of those wanted as are there, keep the rest.
_TAKE = text(
    "WITH c AS ("
    " SELECT provider, clock_timestamp() AS at,"
    " least(:burst, tokens + :rate * greatest(0, extract(epoch FROM clock_timestamp() - "
    "updated_at))) AS available"
    " FROM provider_rate_buckets WHERE provider = :provider FOR UPDATE) "
    "UPDATE provider_rate_buckets AS b"
    " SET tokens = c.available - least(:want, floor(c.available)), updated_at = c.at"
    " FROM c WHERE b.provider = c.provider"
    " RETURNING least(:want, floor(c.available))::integer AS granted,"
    " c.available - least(:want, floor(c.available)) AS left_over"
).bindparams(
    bindparam("provider", type_=String),
    bindparam("burst", type_=Float),
    bindparam("rate", type_=Float),
    bindparam("want", type_=Integer),
)


@dataclass(frozen=True)
class Take:
    granted: int
    # Tokens left in the bucket after the take (a fraction of one when it ran dry).
    left: float


class RateBucketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def take(self, provider: str, *, want: int, rate_per_s: float, burst: int) -> Take:
        """Up to ``want`` tokens from ``provider``'s bucket: as many as it holds now."""
        # A provider's first take finds a full bucket.
        await self._session.execute(
            insert(ProviderRateBucket)
            .values(provider=provider, tokens=float(burst), updated_at=text("clock_timestamp()"))
            .on_conflict_do_nothing(index_elements=[ProviderRateBucket.provider])
        )
        row = (
            await self._session.execute(
                _TAKE,
                {"provider": provider, "burst": float(burst), "rate": rate_per_s, "want": want},
            )
        ).one()
        return Take(granted=int(row.granted), left=float(row.left_over))
