"""Rules for subscriptions: only wards of the current set, once each, up to a limit."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries import repository as boundaries
from services.geo.errors import (
    AlreadySubscribedError,
    SubscriptionLimitError,
    SubscriptionNotFoundError,
    UnknownWardError,
)
from services.geo.subscriptions import repository
from services.geo.subscriptions.schemas import Subscription
from shared.logs import get_logger

log = get_logger(__name__)


async def subscribe(
    session: AsyncSession, member_id: uuid.UUID, ward_code: str, *, max_per_member: int
) -> Subscription:
    names = await boundaries.current_ward_names(session, [ward_code])
    if ward_code not in names:
        raise UnknownWardError(ward_code)
    if await repository.count_for_member(session, member_id) >= max_per_member:
        raise SubscriptionLimitError(max_per_member)
    row = await repository.add(session, member_id, ward_code)
    if row is None:
        raise AlreadySubscribedError(ward_code)
    log.info(
        "geo.subscription.created",
        subscription_id=str(row.id),
        member_id=str(member_id),
        ward_code=ward_code,
    )
    return Subscription(
        id=row.id, ward_code=row.ward_code, ward_name=names[ward_code], created_at=row.created_at
    )


async def list_mine(session: AsyncSession, member_id: uuid.UUID) -> list[Subscription]:
    rows = await repository.list_for_member(session, member_id)
    names = await boundaries.current_ward_names(session, [row.ward_code for row in rows])
    return [
        Subscription(
            id=row.id,
            ward_code=row.ward_code,
            ward_name=names.get(row.ward_code),
            created_at=row.created_at,
        )
        for row in rows
    ]


async def unsubscribe(
    session: AsyncSession, member_id: uuid.UUID, subscription_id: uuid.UUID
) -> None:
    if not await repository.delete_for_member(session, member_id, subscription_id):
        raise SubscriptionNotFoundError()
    log.info(
        "geo.subscription.deleted", subscription_id=str(subscription_id), member_id=str(member_id)
    )
