"""Dispatch's part of a member's export: identity's ``member.export_requested``, through Kafka
into dispatch running in-process, collects the member's endpoints, preferences and deliveries,
served to that member only (anyone else is told it is still being collected); erasure
deletes it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.members.consumers import GROUP_ID
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import utcnow
from shared.events import MemberErased, MemberExportRequested
from tests.dispatch.helpers import add_email_endpoint, publish, unique_email, wait_until_processed
from tests.support.tokens import auth_header


class TestExport:
    async def test_endpoints_preferences_and_deliveries_are_the_members_part(
        self,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id, export_id, alert_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        headers = auth_header(roles=["resident"], member_id=member_id)
        async with sessions() as session, session.begin():
            await add_email_endpoint(
                session, member_id, unique_email(), verified_at=utcnow() - timedelta(days=1)
            )
            session.add(
                Delivery(
                    alert_id=alert_id,
                    member_id=member_id,
                    channel=ChannelKind.EMAIL,
                    status=DeliveryStatus.SENT,
                    sent_at=utcnow(),
                )
            )
        url = f"/members/me/exports/{export_id}"

        requested = await publish(
            producer, MemberExportRequested(member_id=member_id, export_id=export_id)
        )
        await wait_until_processed(sessions, GROUP_ID, requested.event_id)

        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        exported: dict[str, Any] = response.json()
        assert exported["service"] == "dispatch"
        assert [e["channel"] for e in exported["data"]["endpoints"]] == ["email"]
        assert [(d["alert_id"], d["status"]) for d in exported["data"]["deliveries"]] == [
            (str(alert_id), "sent")
        ]
        assert "channels" in exported["data"]["preferences"]
        other = auth_header(roles=["resident"], member_id=uuid.uuid4())
        assert (await client.get(url, headers=other)).status_code == 202

        erased = await publish(producer, MemberErased(member_id=member_id))
        await wait_until_processed(sessions, GROUP_ID, erased.event_id)

        assert (await client.get(url, headers=headers)).status_code == 202
