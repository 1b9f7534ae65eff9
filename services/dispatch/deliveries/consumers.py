"""The ``dispatch.deliveries`` consumer: geo's recipient batches, each in one transaction.

Any number of dispatch processes share this group; batches are keyed by alert and batch number,
so one alert's batches spread over partitions and so over dispatchers."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.base import Channel
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.models import ChannelKind
from shared.events import EventEnvelope, RecipientBatch, Topic
from shared.runtime import ConsumerSpec

GROUP_ID = "dispatch.deliveries"


def recipient_batches_consumer(channels: Mapping[ChannelKind, Channel]) -> ConsumerSpec:
    async def on_recipient_batch(
        session: AsyncSession, envelope: EventEnvelope, payload: RecipientBatch
    ) -> None:
        await DeliveryService(session, channels=channels).deliver_batch(payload)

    return ConsumerSpec(
        group_id=GROUP_ID,
        topics=(Topic.RECIPIENT_BATCHES.value,),
        handlers={RecipientBatch: on_recipient_batch},
        # Each batch may take up to SEND_BUDGET_S (30 s): 8 of them stay inside Kafka's
        # five-minute poll interval.
        max_poll_records=8,
    )
