"""Identity's member events in geo, through Kafka into the running app: an erased member
leaves every stored recipient set (the others stay in it, in order), and a suspended member is
not counted in audience previews until reinstated."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.audience.members import sort_packed
from services.geo.members.service import without_member
from services.geo.models import AlertRecipientSet, OutboxMessage
from shared.db import utcnow
from shared.events import (
    AlertContent,
    EventEnvelope,
    MemberErased,
    MemberExportRequested,
    MemberReinstated,
    MemberSuspended,
    RecipientBatch,
)
from tests.geo.subscriptions.test_consumers import publish
from tests.support.tokens import auth_header
from tests.support.waiting import eventually

WARD = "E05999994"  # one of the demo geography's wards


def packed(*member_ids: uuid.UUID) -> bytes:
    return sort_packed(np.array([m.bytes for m in member_ids], dtype="S16"))


class TestWithoutMember:
    def test_takes_out_only_a_whole_aligned_id(self) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        # An id whose bytes straddle two of the set's ids is not in the set.
        straddling = uuid.UUID(bytes=first.bytes[8:] + second.bytes[:8])
        ids = first.bytes + second.bytes

        assert without_member(ids, straddling.bytes) == ids
        assert without_member(ids, first.bytes) == second.bytes


class TestErasure:
    async def test_the_member_leaves_every_recipient_set_and_nobody_else_does(
        self,
        client: httpx.AsyncClient,  # the running app, whose consumer handles the event
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        erased, kept_a, kept_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        alerts = [uuid.uuid4(), uuid.uuid4()]
        async with sessions() as session, session.begin():
            for alert_id in alerts:
                session.add(
                    AlertRecipientSet(
                        alert_id=alert_id,
                        boundary_set_id=None,
                        recipient_count=3,
                        members=packed(erased, kept_a, kept_b),
                    )
                )

            batch = RecipientBatch(
                content=AlertContent(
                    alert_id=alerts[0],
                    headline="Bikes stolen",
                    body="Lock them.",
                    category="theft",
                    severity="Minor",
                    urgency="Expected",
                    sender_name="Tests",
                    sent_at=utcnow(),
                ),
                batch_number=0,
                member_ids=[erased, kept_a],
            )
            staged = OutboxMessage(
                event_id=uuid.uuid4(),
                topic=batch.topic.value,
                key=batch.partition_key(),
                envelope=EventEnvelope.wrap(batch, producer="geo").model_dump(mode="json"),
                # Published already: the relay leaves it, the outbox keeps it a while.
                published_at=utcnow(),
            )
            session.add(staged)

        await publish(producer, MemberErased(member_id=erased))

        async def purged() -> list[AlertRecipientSet] | None:
            async with sessions() as session:
                rows = [await session.get(AlertRecipientSet, alert_id) for alert_id in alerts]
            done = [row for row in rows if row is not None and row.recipient_count == 2]
            return done if len(done) == len(alerts) else None

        for row in await eventually(purged):
            assert row.members == packed(kept_a, kept_b)
        async with sessions() as session:
            kept_batch = await session.get(OutboxMessage, staged.position)
        assert kept_batch is not None
        assert kept_batch.envelope["payload"]["member_ids"] == [str(kept_a)]


class TestSuspension:
    async def test_a_suspended_member_is_not_counted_until_reinstated(
        self, client: httpx.AsyncClient, producer: AIOKafkaProducer
    ) -> None:
        member_id = uuid.uuid4()
        resident = auth_header(roles=["resident"], member_id=member_id)
        watched = await client.post("/subscriptions", json={"ward_code": WARD}, headers=resident)
        assert watched.status_code == 201, watched.text

        async def recipients() -> int:
            response = await client.post(
                "/audience/preview",
                json={"target": {"ward_codes": [WARD]}},
                headers=auth_header(roles=["officer"]),
            )
            assert response.status_code == 200, response.text
            count: int = response.json()["recipients"]
            return count

        counted = await recipients()
        await publish(producer, MemberSuspended(member_id=member_id))

        async def left_out() -> bool:
            return await recipients() == counted - 1

        await eventually(left_out)
        await publish(producer, MemberReinstated(member_id=member_id))

        async def counted_again() -> bool:
            return await recipients() == counted

        await eventually(counted_again)


class TestExport:
    async def test_the_watched_areas_are_the_members_part_of_the_export(
        self, client: httpx.AsyncClient, producer: AIOKafkaProducer
    ) -> None:
        member_id, export_id = uuid.uuid4(), uuid.uuid4()
        headers = auth_header(roles=["resident"], member_id=member_id)
        watched = await client.post("/subscriptions", json={"ward_code": WARD}, headers=headers)
        assert watched.status_code == 201, watched.text

        await publish(producer, MemberExportRequested(member_id=member_id, export_id=export_id))

        async def part() -> dict[str, Any] | None:
            response = await client.get(f"/members/me/exports/{export_id}", headers=headers)
            return response.json() if response.status_code == 200 else None

        exported = await eventually(part)
        assert exported["service"] == "geo"
        assert [s["ward_code"] for s in exported["data"]["subscriptions"]] == [WARD]
