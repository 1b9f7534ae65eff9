"""Factories and waiting helpers for the dispatch tests: plain functions, no shared state."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.webpush import WebPushSink
from services.dispatch.channels.webpush import WebPushChannel
from services.dispatch.deliveries.repository import Lease
from services.dispatch.deliveries.worker import WorkerSettings
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, Delivery, MemberEndpoint, ProcessedEvent
from shared.events import (
    AlertContent,
    EventEnvelope,
    EventPayload,
    MemberEmailVerified,
    RecipientBatch,
    VerificationEmailRequested,
)

# Re-exported: where the dispatch tests have always imported it from.
from tests.support.waiting import eventually as eventually

T = TypeVar("T")


def unique_email(name: str = "resident") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.org"


def alert_content(**overrides: Any) -> AlertContent:
    fields: dict[str, Any] = {
        "alert_id": uuid.uuid4(),
        "headline": f"Sheds broken into on Acacia Avenue ({uuid.uuid4().hex[:8]})",
        "body": "Several garden sheds were broken into overnight.\n\nPlease lock them.",
        "category": "burglary",
        "severity": "Severe",
        "urgency": "Expected",
        "sender_name": "Hackney Police",
        # Sent a minute ago: alerts expire, so a fixed date would fail once it is far enough behind.
        "sent_at": datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1),
    }
    fields.update(overrides)
    return AlertContent(**fields)


def recipient_batch(
    member_ids: Sequence[uuid.UUID], *, content: AlertContent | None = None, batch_number: int = 0
) -> RecipientBatch:
    return RecipientBatch(
        content=content or alert_content(),
        batch_number=batch_number,
        member_ids=list(member_ids),
    )


def email_verified(member_id: uuid.UUID, email: str) -> MemberEmailVerified:
    return MemberEmailVerified(member_id=member_id, email=email, pseudonym="Neighbour 1234")


def verification_requested(email: str) -> VerificationEmailRequested:
    return VerificationEmailRequested(
        member_id=uuid.uuid4(),
        email=email,
        pseudonym="Tawny Owl 42",
        verify_url=f"https://tawny.example/api/identity/email-verifications/{uuid.uuid4().hex}",
    )


async def publish(
    producer: AIOKafkaProducer, payload: EventPayload, *, envelope: EventEnvelope | None = None
) -> EventEnvelope:
    """Put an event on its topic as a service's outbox relay would (or ``envelope`` again)."""
    envelope = envelope or EventEnvelope.wrap(payload, producer="dispatch-tests")
    await producer.send_and_wait(
        payload.topic.value,
        envelope.model_dump_json().encode(),
        key=payload.partition_key().encode(),
    )
    return envelope


async def wait_until_processed(
    sessions: async_sessionmaker[AsyncSession], consumer: str, event_id: uuid.UUID
) -> None:
    async def processed() -> bool:
        async with sessions() as session:
            found = await session.get(ProcessedEvent, (consumer, event_id))
            return found is not None

    await eventually(processed)


async def deliveries_of(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> list[Delivery]:
    async with sessions() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        return list(rows)


async def add_email_endpoint(
    session: AsyncSession, member_id: uuid.UUID, address: str, *, verified_at: datetime
) -> None:
    await MemberEndpointRepository(session).record_verified(
        member_id=member_id, channel=ChannelKind.EMAIL, address=address, verified_at=verified_at
    )


def driven_worker_settings(**overrides: Any) -> WorkerSettings:
    """A delivery worker's settings for driving it in a test: retries due almost at once, so a
    test can drive them without waiting; ``overrides`` by field name."""
    fields: dict[str, Any] = {
        "claim_size": 50,
        "poll_interval_s": 0.05,
        "max_attempts": 4,
        "retry_base_delay_s": 0.01,
        "retry_max_delay_s": 0.02,
        "sending_timeout_s": 60,
        "sweep_interval_s": 1,
    }
    fields.update(overrides)
    return WorkerSettings(**fields)


# A claim taken by the test itself, standing for a worker that holds its rows and records
# nothing: its lease outlasts any test unless the test says otherwise.
DEAD_WORKER = Lease(holder="a worker the test stands for", duration_s=600)


async def endpoint_of(
    session: AsyncSession, member_id: uuid.UUID, channel: ChannelKind
) -> MemberEndpoint | None:
    """The member's (first registered) endpoint on the channel, as the database has it now."""
    found = await session.scalars(
        select(MemberEndpoint)
        .where(MemberEndpoint.member_id == member_id, MemberEndpoint.channel == channel)
        .order_by(MemberEndpoint.created_at)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return found.first()


def browser_subscription(app: FastAPI, sink: WebPushSink) -> dict[str, Any]:
    """What a browser's pushManager.subscribe() gives, bound to the app's VAPID key."""
    channel = app.state.webpush_channel
    assert isinstance(channel, WebPushChannel)
    return sink.subscribe(channel.signer.application_server_key)
