"""A suspended member receives nothing: identity's ``member.suspended``, through Kafka into
dispatch running in-process, gives up what waited to be sent to them, and recipient batches
record nothing for them until ``member.reinstated``."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.members.consumers import GROUP_ID
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import utcnow
from shared.events import MemberReinstated, MemberSuspended
from tests.dispatch.helpers import (
    add_email_endpoint,
    publish,
    recipient_batch,
    unique_email,
    wait_until_processed,
)


class TestSuspension:
    async def test_a_suspended_member_receives_nothing_until_reinstated(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id, bystander = uuid.uuid4(), uuid.uuid4()
        waiting: dict[uuid.UUID, uuid.UUID] = {}
        async with sessions() as session, session.begin():
            for someone in (member_id, bystander):
                await add_email_endpoint(
                    session, someone, unique_email(), verified_at=utcnow() - timedelta(days=1)
                )
                # Due after the member's quiet hours, so no worker takes it meanwhile.
                row = Delivery(
                    alert_id=uuid.uuid4(),
                    member_id=someone,
                    channel=ChannelKind.EMAIL,
                    status=DeliveryStatus.CREATED,
                    next_attempt_at=utcnow() + timedelta(hours=6),
                )
                session.add(row)
                await session.flush()
                waiting[someone] = row.id

        suspended = await publish(producer, MemberSuspended(member_id=member_id))
        await wait_until_processed(sessions, GROUP_ID, suspended.event_id)

        async with sessions() as session:
            given_up = await session.get(Delivery, waiting[member_id])
            untouched = await session.get(Delivery, waiting[bystander])
        assert given_up is not None and given_up.status is DeliveryStatus.FAILED
        assert given_up.last_error == "the member was suspended"
        assert untouched is not None and untouched.status is DeliveryStatus.CREATED
        async with sessions() as session, session.begin():
            report = await DeliveryService(session).record_batch(
                recipient_batch([member_id, bystander])
            )
        assert (report.members, report.created) == (1, 1)

        reinstated = await publish(producer, MemberReinstated(member_id=member_id))
        await wait_until_processed(sessions, GROUP_ID, reinstated.event_id)

        async with sessions() as session, session.begin():
            report = await DeliveryService(session).record_batch(
                recipient_batch([member_id, bystander])
            )
        assert (report.members, report.created) == (2, 2)
