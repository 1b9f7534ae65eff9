"""Every SQL statement of audience resolution."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import AlertAudience, Subscription


async def member_ids_in_batches(
    session: AsyncSession, ward_codes: Sequence[str], batch_size: int
) -> AsyncIterator[list[uuid.UUID]]:
    """Each member subscribed to any of ``ward_codes`` exactly once, in member_id order, in
    lists of at most ``batch_size``. A server-side cursor streams them, so an audience of a
    million members never sits in memory at once."""
    if not ward_codes:
        return
    result = await session.stream_scalars(
        select(Subscription.member_id)
        .where(Subscription.ward_code.in_(ward_codes))
        .distinct()
        .order_by(Subscription.member_id)
        .execution_options(yield_per=batch_size)
    )
    async for batch in result.partitions(batch_size):
        yield list(batch)


async def add_audience(session: AsyncSession, audience: AlertAudience) -> None:
    session.add(audience)
    await session.flush()
