"""Recipient batches through Kafka into dispatch running in-process, out to the SMTP sink."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import ReceivedMessage, SmtpSink
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.consumers import GROUP_ID as DELIVERIES
from services.dispatch.members.consumers import GROUP_ID as MEMBERS
from services.dispatch.models import Delivery, DeliveryStatus
from shared.events import EventEnvelope, RecipientBatch, Topic
from shared.kafka import namespaced
from tests.dispatch.helpers import (
    deliveries_of,
    email_verified,
    eventually,
    publish,
    recipient_batch,
    unique_email,
    wait_until_processed,
)
from tests.support.kafka import topic_reader
from tests.support.tokens import auth_header


async def verified_members(
    producer: AIOKafkaProducer, sessions: async_sessionmaker[AsyncSession], count: int
) -> list[tuple[uuid.UUID, str]]:
    """Members whose email identity reported verified, as dispatch has recorded them."""
    members = [(uuid.uuid4(), unique_email()) for _ in range(count)]
    envelopes = [await publish(producer, email_verified(*member)) for member in members]
    for envelope in envelopes:
        await wait_until_processed(sessions, MEMBERS, envelope.event_id)
    return members


async def mail_for(sink: SmtpSink, address: str) -> list[ReceivedMessage]:
    async def received() -> list[ReceivedMessage]:
        return sink.messages_to(address)

    return await eventually(received)


async def all_final(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> list[Delivery]:
    """The alert's deliveries once every one is sent or failed (else an empty list)."""
    recorded = await deliveries_of(sessions, alert_id)
    final = (DeliveryStatus.SENT, DeliveryStatus.FAILED)
    return recorded if recorded and all(d.status in final for d in recorded) else []


def without_endpoint_count() -> float:
    value = REGISTRY.get_sample_value("tawny_dispatch_recipients_without_endpoint_total")
    return value or 0.0


class TestRecipientBatch:
    async def test_each_member_gets_one_email_with_the_headline_in_the_subject(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
    ) -> None:
        members = await verified_members(producer, sessions, 3)
        batch = recipient_batch([member_id for member_id, _ in members])

        await publish(producer, batch)

        for _member_id, address in members:
            [message] = await mail_for(sink, address)
            assert message.subject == f"[Severe] Burglary: {batch.content.headline}"
            assert batch.content.body in message.text
            assert "Hackney Police" in message.text
        recorded = await eventually(lambda: all_final(sessions, batch.content.alert_id))
        assert sorted(d.member_id for d in recorded) == sorted(m for m, _ in members)
        assert {d.status for d in recorded} == {DeliveryStatus.SENT}

    async def test_a_member_verified_after_the_alert_came_still_gets_it(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
    ) -> None:
        # The race this closes: identity verified the member just before the alert, but the
        # members consumer lags behind the batches.
        [(member_id, address)] = await verified_members(producer, sessions, 1)
        late_member, late_address = uuid.uuid4(), unique_email("late")
        batch = recipient_batch([late_member, member_id])
        counted_before = without_endpoint_count()

        envelope = await publish(producer, batch)
        await wait_until_processed(sessions, DELIVERIES, envelope.event_id)
        await mail_for(sink, address)
        recorded = {d.member_id: d for d in await deliveries_of(sessions, batch.content.alert_id)}
        assert recorded[late_member].status is DeliveryStatus.PENDING
        assert sink.messages_to(late_address) == []
        assert without_endpoint_count() - counted_before == 1

        await publish(producer, email_verified(late_member, late_address))

        [message] = await mail_for(sink, late_address)
        assert message.subject.endswith(batch.content.headline)
        await eventually(lambda: all_final(sessions, batch.content.alert_id))

    async def test_the_same_envelope_delivered_twice_sends_one_email(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
    ) -> None:
        [(member_id, address)] = await verified_members(producer, sessions, 1)
        batch = recipient_batch([member_id])

        envelope = await publish(producer, batch)
        await mail_for(sink, address)
        await publish(producer, batch, envelope=envelope)
        # Same key, so same partition, handled in order: once this one is processed, the
        # redelivered envelope before it has been handled (and skipped) too.
        follower = await publish(producer, recipient_batch([], content=batch.content))
        await wait_until_processed(sessions, DELIVERIES, follower.event_id)

        assert len(sink.messages_to(address)) == 1
        assert len(await deliveries_of(sessions, batch.content.alert_id)) == 1

    async def test_the_same_batch_under_a_new_event_id_sends_one_email(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
    ) -> None:
        [(member_id, address)] = await verified_members(producer, sessions, 1)
        batch = recipient_batch([member_id])

        first = await publish(producer, batch)
        second = await publish(producer, RecipientBatch.model_validate(batch.model_dump()))
        await wait_until_processed(sessions, DELIVERIES, second.event_id)
        await eventually(lambda: all_final(sessions, batch.content.alert_id))

        assert first.event_id != second.event_id
        assert len(sink.messages_to(address)) == 1
        assert len(await deliveries_of(sessions, batch.content.alert_id)) == 1

    async def test_a_permanently_refused_recipient_fails_while_the_others_are_sent(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
        client: httpx.AsyncClient,
    ) -> None:
        members = await verified_members(producer, sessions, 3)
        (refused, refused_address), *others = members
        sink.reject(refused_address, "550 5.1.1 No such mailbox")
        batch = recipient_batch([member_id for member_id, _ in members])

        await publish(producer, batch)

        recorded = {
            d.member_id: d
            for d in await eventually(lambda: all_final(sessions, batch.content.alert_id))
        }
        assert recorded[refused].status is DeliveryStatus.FAILED
        assert recorded[refused].last_error == "refused: 550 5.1.1 No such mailbox"
        assert sink.messages_to(refused_address) == []
        for member_id, address in others:
            assert recorded[member_id].status is DeliveryStatus.SENT
            assert len(sink.messages_to(address)) == 1

        summary = await client.get(
            "/deliveries/summary",
            params={"alert_id": str(batch.content.alert_id)},
            headers=auth_header(roles=["officer"]),
        )
        assert summary.status_code == 200
        assert summary.json()["channels"]["email"] == {
            "pending": 0,
            "created": 0,
            "sending": 0,
            "sent": 2,
            "failed": 1,
            "held": 0,
        }


class TestPoisonBatch:
    async def test_a_batch_that_cannot_be_parsed_goes_to_the_dead_letter_topic(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        settings: DispatchSettings,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
    ) -> None:
        marker = uuid.uuid4().hex
        envelope = EventEnvelope(
            type=RecipientBatch.event_type,
            producer="dispatch-tests",
            payload={"content": {"headline": marker}, "batch_number": 0, "member_ids": "nope"},
        )
        await producer.send_and_wait(
            Topic.RECIPIENT_BATCHES.value, envelope.model_dump_json().encode(), key=marker.encode()
        )

        reader = topic_reader(settings, Topic.DEAD_LETTER.value)
        await reader.start()
        try:

            async def dead_lettered() -> dict[str, Any]:
                batches = await reader.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        letter: dict[str, Any] = json.loads(record.value or b"{}")
                        if marker in letter.get("value", ""):
                            return letter
                return {}

            letter = await eventually(dead_lettered)
        finally:
            await reader.stop()

        assert letter["consumer"] == DELIVERIES
        assert letter["topic"] == namespaced(
            Topic.RECIPIENT_BATCHES.value, settings.kafka_namespace
        )
        assert "bad payload for recipients.batch" in letter["reason"]
