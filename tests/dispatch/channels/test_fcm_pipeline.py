"""Alerts by mobile push through the whole pipeline: a recipient batch on the broker, the
running dispatcher's workers, the session's FCM sink; an uninstalled app's token is disabled."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.fcm import FcmSink
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import utcnow
from tests.dispatch.helpers import deliveries_of, endpoint_of, eventually, publish, recipient_batch


@pytest.mark.usefixtures("app")
class TestAlertsByMobilePush:
    async def test_an_alert_reaches_the_app_and_an_uninstalled_one_is_disabled(
        self,
        producer: AIOKafkaProducer,
        fcm_sink: FcmSink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        installed, uninstalled = uuid.uuid4(), uuid.uuid4()
        tokens = {
            member: f"device-{uuid.uuid4().hex}:APA91b" for member in (installed, uninstalled)
        }
        async with sessions.begin() as session:
            for member_id, token in tokens.items():
                await MemberEndpointRepository(session).record_verified(
                    member_id=member_id,
                    channel=ChannelKind.FCM,
                    address=token,
                    verified_at=utcnow(),
                )
        fcm_sink.unregister(tokens[uninstalled])
        batch = recipient_batch([installed, uninstalled])
        await publish(producer, batch)

        async def settled() -> dict[uuid.UUID, Delivery]:
            rows = await deliveries_of(sessions, batch.content.alert_id)
            done = {r.member_id: r for r in rows if r.status in ("sent", "failed")}
            return done if len(done) == 2 else {}

        rows = await eventually(settled)

        [message] = fcm_sink.messages_to(tokens[installed])
        assert message.message["notification"]["title"] == batch.content.headline
        assert rows[installed].status is DeliveryStatus.SENT
        assert rows[installed].provider_reference == message.name
        assert rows[uninstalled].status is DeliveryStatus.FAILED
        async with sessions() as session:
            gone = await endpoint_of(session, uninstalled, ChannelKind.FCM)
            assert gone is not None and gone.disabled_at is not None
