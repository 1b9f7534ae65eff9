"""The purge, on the quiet database: old finished alerts go with their deliveries; old alerts
with a delivery still to send, and recent ones, stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.deliveries.repository import DeliveryRepository
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus, DispatchAlert
from services.dispatch.retention.service import purge_old_alerts
from shared.db import utcnow
from tests.dispatch.helpers import alert_content

RETENTION = timedelta(days=30)


async def stored_alert(
    sessions: async_sessionmaker[AsyncSession], *, age: timedelta, statuses: list[DeliveryStatus]
) -> uuid.UUID:
    content = alert_content()
    async with sessions.begin() as session:
        deliveries = DeliveryRepository(session)
        await deliveries.store_alert(
            alert_id=content.alert_id,
            content=content.model_dump(mode="json"),
            priority=1,
            deliver_until=utcnow(),
        )
        session.add_all(
            Delivery(
                alert_id=content.alert_id,
                member_id=uuid.uuid4(),
                channel=ChannelKind.EMAIL,
                status=status,
                sent_at=utcnow() - age if status is DeliveryStatus.SENT else None,
            )
            for status in statuses
        )
        await session.execute(
            update(DispatchAlert)
            .where(DispatchAlert.alert_id == content.alert_id)
            .values(created_at=utcnow() - age)
        )
    return content.alert_id


async def remaining(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> tuple[bool, int]:
    async with sessions() as session:
        alert = await session.get(DispatchAlert, alert_id)
        rows = (
            await session.scalars(select(Delivery.id).where(Delivery.alert_id == alert_id))
        ).all()
        return alert is not None, len(rows)


class TestPurge:
    async def test_deletes_only_old_alerts_whose_deliveries_are_all_finished(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        sent, failed = DeliveryStatus.SENT, DeliveryStatus.FAILED
        old_finished = await stored_alert(
            quiet_sessions, age=timedelta(days=31), statuses=[sent, failed]
        )
        old_waiting = {
            status: await stored_alert(
                quiet_sessions, age=timedelta(days=31), statuses=[sent, status]
            )
            for status in (
                DeliveryStatus.PENDING,
                DeliveryStatus.CREATED,
                DeliveryStatus.SENDING,
                DeliveryStatus.HELD,
            )
        }
        recent = await stored_alert(quiet_sessions, age=timedelta(days=29), statuses=[sent])

        alerts, deliveries = await purge_old_alerts(quiet_sessions, retention=RETENTION)

        assert alerts >= 1 and deliveries >= 2
        assert await remaining(quiet_sessions, old_finished) == (False, 0)
        for alert_id in old_waiting.values():
            assert await remaining(quiet_sessions, alert_id) == (True, 2)
        assert await remaining(quiet_sessions, recent) == (True, 1)
