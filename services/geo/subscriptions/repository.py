"""Every SQL statement about subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import Subscription
from shared.db import utcnow


async def add(session: AsyncSession, member_id: uuid.UUID, ward_code: str) -> Subscription | None:
    """The new subscription, or None if the member already has this ward (also when a
    concurrent request added it a moment ago)."""
    row = await session.scalar(
        insert(Subscription)
        .values(id=uuid.uuid4(), member_id=member_id, ward_code=ward_code, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["member_id", "ward_code"])
        .returning(Subscription)
    )
    return row


async def count_for_member(session: AsyncSession, member_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Subscription).where(Subscription.member_id == member_id)
    )
    return int(count or 0)


async def list_for_member(session: AsyncSession, member_id: uuid.UUID) -> Sequence[Subscription]:
    return (
        await session.scalars(
            select(Subscription)
            .where(Subscription.member_id == member_id)
            .order_by(Subscription.created_at, Subscription.id)
        )
    ).all()


async def delete_for_member(
    session: AsyncSession, member_id: uuid.UUID, subscription_id: uuid.UUID
) -> bool:
    """Delete the member's own subscription; False if they have none with this id."""
    deleted = await session.scalar(
        delete(Subscription)
        .where(Subscription.id == subscription_id, Subscription.member_id == member_id)
        .returning(Subscription.id)
    )
    return deleted is not None
