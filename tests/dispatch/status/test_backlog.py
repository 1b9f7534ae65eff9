"""The backlog gauges: deliveries due and in flight per channel, counted from the database on a
database of their own (the counts are deployment-wide, so no other test's rows may be in it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.deliveries.repository import DeliveryRepository, Lease
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from services.dispatch.status.backlog import BacklogGauges
from shared.db import session_scope
from tests.dispatch.helpers import (
    DEAD_WORKER,
    add_email_endpoint,
    recipient_batch,
    unique_email,
)

VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_counts_due_held_and_lapsed_deliveries_per_channel(
    own_sessions: async_sessionmaker[AsyncSession],
) -> None:
    members = [uuid.uuid4() for _ in range(5)]
    async with session_scope(own_sessions) as session:
        for member_id in members:
            await add_email_endpoint(session, member_id, unique_email(), verified_at=VERIFIED_AT)
        await DeliveryService(session).record_batch(recipient_batch(members))
        # Made due an hour ago: the oldest due delivery has waited at least that long.
        await session.execute(
            update(Delivery).values(next_attempt_at=Delivery.next_attempt_at - timedelta(hours=1))
        )
    async with session_scope(own_sessions) as session:
        repository = DeliveryRepository(session)
        await repository.claim(limit=2, lease=DEAD_WORKER)
        lapsed = Lease(holder="a process that died", duration_s=0)
        await repository.claim(limit=1, lease=lapsed)

    backlog = await BacklogGauges(own_sessions).report()

    email = backlog[ChannelKind.EMAIL]
    assert (email.due, email.leased, email.lapsed) == (2, 2, 1)
    assert email.oldest_due_s >= 3600
    assert gauge("tawny_dispatch_deliveries_due", channel="email") == 2
    assert (
        gauge("tawny_dispatch_oldest_due_delivery_seconds", channel="email") == email.oldest_due_s
    )
    assert gauge("tawny_dispatch_deliveries_in_flight", channel="email", lease="held") == 2
    assert gauge("tawny_dispatch_deliveries_in_flight", channel="email", lease="lapsed") == 1
    # A channel with nothing waiting reports zeros, not a stale number.
    assert gauge("tawny_dispatch_deliveries_due", channel="sms") == 0
    assert gauge("tawny_dispatch_deliveries_in_flight", channel="sms", lease="held") == 0

    async with session_scope(own_sessions) as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.status != DeliveryStatus.SENDING)
            .values(status=DeliveryStatus.SENT, sent_at=VERIFIED_AT)
        )
    await BacklogGauges(own_sessions).report()
    assert gauge("tawny_dispatch_deliveries_due", channel="email") == 0
    assert gauge("tawny_dispatch_oldest_due_delivery_seconds", channel="email") == 0
