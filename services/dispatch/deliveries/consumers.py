"""The ``dispatch.deliveries`` consumer: geo's recipient batches, each recorded in one short
transaction (nothing is sent in it: the delivery workers send once it has committed).

Any number of dispatch processes share this group; batches are keyed by alert and batch number,
so one alert's batches spread over partitions and so over dispatchers. The offset is committed
once the batch's rows are durable, and any process's workers may send them."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.models import ChannelKind
from shared.events import EventEnvelope, RecipientBatch, Topic
from shared.runtime import ConsumerSpec

GROUP_ID = "dispatch.deliveries"


def wake_after_commit(session: AsyncSession, wake: Callable[[], None] | None) -> None:
    """Call ``wake`` once this session's transaction has committed (not before: a worker woken
    early would find nothing yet and sleep for a poll interval)."""
    if wake is None:
        return

    def on_commit(_session: object) -> None:
        wake()

    event.listen(session.sync_session, "after_commit", on_commit, once=True)


def recipient_batches_consumer(
    channels: Collection[ChannelKind],
    *,
    pending_max_age: timedelta,
    wake_workers: Callable[[], None] | None = None,
) -> ConsumerSpec:
    async def on_recipient_batch(
        session: AsyncSession, envelope: EventEnvelope, payload: RecipientBatch
    ) -> None:
        await DeliveryService(
            session, channels=channels, pending_max_age=pending_max_age
        ).record_batch(payload)
        wake_after_commit(session, wake_workers)

    return ConsumerSpec(
        group_id=GROUP_ID,
        topics=(Topic.RECIPIENT_BATCHES.value,),
        handlers={RecipientBatch: on_recipient_batch},
    )
