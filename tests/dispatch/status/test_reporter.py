"""delivery.stats_reported: running totals per alert and channel, counted from the database,
published through the outbox at most once per alert per interval however many dispatchers
report, and only when they changed."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.config import DispatchSettings
from services.dispatch.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    DispatchAlert,
    OutboxMessage,
)
from services.dispatch.status.reporter import StatsReporter
from shared.db import utcnow
from shared.events import Topic
from tests.dispatch.helpers import (
    add_email_endpoint,
    publish,
    recipient_batch,
    unique_email,
)
from tests.support.kafka import topic_reader
from tests.support.waiting import eventually

# The interval is the reporter's own setting, so tests choose which side of it a pass falls on
# instead of sleeping past it (a pass on a slow machine could fall on the wrong side).
WITHIN_THE_INTERVAL_S = 3600.0
AFTER_THE_INTERVAL_S = 0.0


async def add_alert_with_deliveries(
    sessions: async_sessionmaker[AsyncSession],
    rows: list[tuple[ChannelKind, DeliveryStatus, bool]],
) -> uuid.UUID:
    """An alert and one delivery per (channel, status, delivered?)."""
    alert_id = uuid.uuid4()
    now = utcnow()
    async with sessions.begin() as session:
        session.add(DispatchAlert(alert_id=alert_id, content={}, priority=1, deliver_until=now))
        for channel, status, delivered in rows:
            sent = status is DeliveryStatus.SENT or delivered
            session.add(
                Delivery(
                    id=uuid.uuid4(),
                    alert_id=alert_id,
                    member_id=uuid.uuid4(),
                    channel=channel,
                    status=status,
                    sent_at=now if sent else None,
                    delivered_at=now if delivered else None,
                )
            )
    return alert_id


async def staged_reports(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> list[dict[str, Any]]:
    async with sessions() as session:
        envelopes = await session.scalars(
            select(OutboxMessage.envelope)
            .where(OutboxMessage.key == str(alert_id))
            .order_by(OutboxMessage.position)
        )
        return [envelope["payload"] for envelope in envelopes]


def reporter(
    sessions: async_sessionmaker[AsyncSession], interval_s: float = WITHIN_THE_INTERVAL_S
) -> StatsReporter:
    """A reporter whose last check of every alert is within its interval, unless told."""
    return StatsReporter(sessions=sessions, interval_s=interval_s)


class TestStatsReporter:
    async def test_reports_totals_per_channel_once_though_two_dispatchers_try(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        alert_id = await add_alert_with_deliveries(
            quiet_sessions,
            [
                (ChannelKind.EMAIL, DeliveryStatus.SENT, False),
                (ChannelKind.EMAIL, DeliveryStatus.SENT, False),
                (ChannelKind.EMAIL, DeliveryStatus.FAILED, False),
                (ChannelKind.EMAIL, DeliveryStatus.CREATED, False),
                (ChannelKind.SMS, DeliveryStatus.SENT, True),
                (ChannelKind.SMS, DeliveryStatus.FAILED, True),
                (ChannelKind.FCM, DeliveryStatus.PENDING, False),
            ],
        )

        await asyncio.gather(
            reporter(quiet_sessions).report_once(), reporter(quiet_sessions).report_once()
        )
        await reporter(quiet_sessions).report_once()

        [report] = await staged_reports(quiet_sessions, alert_id)
        assert report["alert_id"] == str(alert_id)
        assert report["channels"] == {
            "email": {"recipients": 4, "sent": 2, "delivered": 0, "failed": 1},
            "sms": {"recipients": 2, "sent": 2, "delivered": 2, "failed": 1},
            "fcm": {"recipients": 1, "sent": 0, "delivered": 0, "failed": 0},
        }

    async def test_reports_again_after_the_interval_only_if_the_totals_changed(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        alert_id = await add_alert_with_deliveries(
            quiet_sessions,
            [
                (ChannelKind.EMAIL, DeliveryStatus.SENT, False),
                (ChannelKind.EMAIL, DeliveryStatus.CREATED, False),
            ],
        )
        await reporter(quiet_sessions).report_once()
        # The same totals: nothing new, however long ago the last check was.
        await reporter(quiet_sessions, AFTER_THE_INTERVAL_S).report_once()
        assert len(await staged_reports(quiet_sessions, alert_id)) == 1

        async with quiet_sessions.begin() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.alert_id == alert_id, Delivery.status == DeliveryStatus.CREATED)
                .values(status=DeliveryStatus.SENT, sent_at=utcnow(), updated_at=utcnow())
            )
        await reporter(quiet_sessions).report_once()  # within the interval of the last check
        assert len(await staged_reports(quiet_sessions, alert_id)) == 1
        await reporter(quiet_sessions, AFTER_THE_INTERVAL_S).report_once()

        first, second = await staged_reports(quiet_sessions, alert_id)
        assert first["channels"]["email"]["sent"] == 1
        assert second["channels"]["email"] == {
            "recipients": 2,
            "sent": 2,
            "delivered": 0,
            "failed": 0,
        }
        assert second["as_of"] > first["as_of"]

    async def test_an_alert_whose_deliveries_are_settled_is_not_counted_again(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        alert_id = await add_alert_with_deliveries(
            quiet_sessions, [(ChannelKind.EMAIL, DeliveryStatus.SENT, False)]
        )
        await reporter(quiet_sessions).report_once()
        async with quiet_sessions.begin() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.alert_id == alert_id)
                .values(updated_at=utcnow() - timedelta(days=365))
            )

        assert await reporter(quiet_sessions, AFTER_THE_INTERVAL_S).report_once() == 0


@pytest.mark.usefixtures("app")
class TestPublished:
    async def test_the_running_dispatcher_publishes_an_alerts_totals(
        self,
        settings: DispatchSettings,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        members = [uuid.uuid4() for _ in range(3)]
        async with sessions.begin() as session:
            for member_id in members:
                await add_email_endpoint(session, member_id, unique_email(), verified_at=utcnow())
        batch = recipient_batch(members)
        alert_id = str(batch.content.alert_id)
        await publish(producer, batch)

        consumer = topic_reader(settings, Topic.DELIVERY_STATUS.value)
        await consumer.start()
        reports: list[dict[str, Any]] = []

        async def every_member_counted_sent() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    envelope = json.loads(record.value or b"")
                    if envelope["payload"]["alert_id"] == alert_id:
                        assert envelope["type"] == "delivery.stats_reported"
                        reports.append(envelope["payload"])
            return bool(reports) and reports[-1]["channels"]["email"]["sent"] == len(members)

        try:
            await eventually(every_member_counted_sent)
        finally:
            await consumer.stop()

        assert reports[-1]["channels"] == {
            "email": {"recipients": 3, "sent": 3, "delivered": 0, "failed": 0}
        }
        as_of = [report["as_of"] for report in reports]
        assert as_of == sorted(as_of) and len(set(as_of)) == len(as_of)
