"""Preferences set through the API, honoured by the pipeline: a recipient batch through Kafka
into dispatch running in-process, out to the SMTP sink."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import ReceivedMessage, SmtpSink
from services.dispatch.deliveries.consumers import GROUP_ID as DELIVERIES
from services.dispatch.members.consumers import GROUP_ID as MEMBERS
from services.dispatch.models import DeliveryStatus, MemberPreferences
from shared.events import MemberErased
from tests.dispatch.helpers import (
    add_email_endpoint,
    alert_content,
    deliveries_of,
    eventually,
    publish,
    recipient_batch,
    unique_email,
    wait_until_processed,
)
from tests.support.tokens import auth_header

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


class TestPreferencesInThePipeline:
    async def test_unsubscribed_and_digest_members_get_no_alert_email_now(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
    ) -> None:
        plain, unsubscribed, digest = (uuid.uuid4() for _ in range(3))
        addresses = {member: unique_email() for member in (plain, unsubscribed, digest)}
        async with sessions.begin() as session:
            for member, address in addresses.items():
                await add_email_endpoint(session, member, address, verified_at=VERIFIED_AT)
        for member, document in (
            (unsubscribed, {"unsubscribed_categories": ["antisocial_behaviour"]}),
            (digest, {"digest_hour": 7}),
        ):
            response = await client.put(
                "/preferences/me", json=document, headers=auth_header(member_id=member)
            )
            assert response.status_code == 200
        batch = recipient_batch(
            [plain, unsubscribed, digest],
            content=alert_content(severity="Minor", category="antisocial_behaviour"),
        )

        envelope = await publish(producer, batch)
        await wait_until_processed(sessions, DELIVERIES, envelope.event_id)

        async def mail() -> list[ReceivedMessage]:
            return sink.messages_to(addresses[plain])

        [message] = await eventually(mail)
        assert message.headers["List-Unsubscribe"].startswith("<http://")

        # The sink has the email a moment before the worker records it sent.
        async def recorded() -> dict[uuid.UUID, DeliveryStatus] | None:
            rows = await deliveries_of(sessions, batch.content.alert_id)
            statuses = {row.member_id: row.status for row in rows}
            return statuses if statuses.get(plain) is DeliveryStatus.SENT else None

        assert await eventually(recorded) == {
            plain: DeliveryStatus.SENT,
            digest: DeliveryStatus.HELD,
        }
        assert sink.messages_to(addresses[unsubscribed]) == []
        assert sink.messages_to(addresses[digest]) == []


class TestMemberErased:
    async def test_forgets_the_members_preferences(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id = uuid.uuid4()
        response = await client.put(
            "/preferences/me", json={"language": "cy"}, headers=auth_header(member_id=member_id)
        )
        assert response.status_code == 200

        envelope = await publish(producer, MemberErased(member_id=member_id))
        await wait_until_processed(sessions, MEMBERS, envelope.event_id)

        async with sessions() as session:
            assert await session.get(MemberPreferences, member_id) is None
