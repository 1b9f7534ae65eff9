"""Identity's member events, through Kafka, into dispatch running in-process."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import ReceivedMessage, SmtpSink
from services.dispatch.members.consumers import GROUP_ID
from services.dispatch.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Letter,
    LetterStatus,
    MemberEndpoint,
    SentNotice,
)
from shared.db import utcnow
from shared.events import MemberErased, PasswordResetRequested
from tests.dispatch.helpers import (
    email_verified,
    eventually,
    publish,
    unique_email,
    verification_requested,
    wait_until_processed,
)
from tests.dispatch.helpers import endpoint_of as stored_endpoint


async def endpoint_of(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID
) -> MemberEndpoint | None:
    async with sessions() as session:
        return await stored_endpoint(session, member_id, ChannelKind.EMAIL)


class TestVerificationEmailRequested:
    async def test_emails_the_verification_link(
        self, app: FastAPI, producer: AIOKafkaProducer, sink: SmtpSink
    ) -> None:
        requested = verification_requested(unique_email())

        await publish(producer, requested)

        async def mail() -> list[ReceivedMessage]:
            return sink.messages_to(requested.email)

        [message] = await eventually(mail)
        assert message.subject == "Confirm your email address for Tawny"
        assert message.mail_from == "alerts@tawny.london"
        assert requested.verify_url in message.text
        assert "Hello Tawny Owl 42," in message.text
        assert message.html is not None and requested.verify_url in message.html


class TestMemberEmailVerified:
    async def test_records_the_address_and_follows_a_change(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id = uuid.uuid4()
        first, second = unique_email(), unique_email()

        envelope = await publish(producer, email_verified(member_id, first))
        await wait_until_processed(sessions, GROUP_ID, envelope.event_id)
        recorded = await endpoint_of(sessions, member_id)
        assert recorded is not None
        assert recorded.address == first
        assert recorded.verified_at == envelope.occurred_at
        assert recorded.disabled_at is None

        envelope = await publish(producer, email_verified(member_id, second))
        await wait_until_processed(sessions, GROUP_ID, envelope.event_id)
        changed = await endpoint_of(sessions, member_id)
        assert changed is not None
        assert changed.address == second
        assert changed.verified_at == envelope.occurred_at


class TestPasswordResetRequested:
    async def test_emails_the_reset_link(
        self, app: FastAPI, producer: AIOKafkaProducer, sink: SmtpSink
    ) -> None:
        address = unique_email()
        requested = PasswordResetRequested(
            member_id=uuid.uuid4(),
            email=address,
            pseudonym="Neighbour 4821",
            reset_url=f"https://tawny.test/reset/{uuid.uuid4().hex}",
        )

        await publish(producer, requested)

        async def mail() -> list[ReceivedMessage]:
            return sink.messages_to(address)

        [message] = await eventually(mail)
        assert message.subject == "Reset your Tawny password"
        assert requested.reset_url in message.text
        assert "Hello Neighbour 4821," in message.text
        assert message.html is not None and requested.reset_url in message.html


class TestMemberErased:
    async def test_forgets_the_members_addresses(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id = uuid.uuid4()
        envelope = await publish(producer, email_verified(member_id, unique_email()))
        await wait_until_processed(sessions, GROUP_ID, envelope.event_id)
        assert await endpoint_of(sessions, member_id) is not None

        envelope = await publish(producer, MemberErased(member_id=member_id))
        await wait_until_processed(sessions, GROUP_ID, envelope.event_id)

        assert await endpoint_of(sessions, member_id) is None

    async def test_forgets_every_row_that_names_the_member(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id, bystander = uuid.uuid4(), uuid.uuid4()
        async with sessions() as session, session.begin():
            for someone in (member_id, bystander):
                session.add_all(
                    [
                        Delivery(
                            alert_id=uuid.uuid4(),
                            member_id=someone,
                            channel=ChannelKind.EMAIL,
                            status=DeliveryStatus.SENT,
                            sent_at=utcnow(),
                        ),
                        Letter(letter_id=uuid.uuid4(), member_id=someone, status=LetterStatus.SENT),
                        SentNotice(notice_id=uuid.uuid4(), member_id=someone, kind="test"),
                    ]
                )

        envelope = await publish(producer, MemberErased(member_id=member_id))
        await wait_until_processed(sessions, GROUP_ID, envelope.event_id)

        async with sessions() as session:
            for model in (Delivery, Letter, SentNotice):
                left = await session.scalars(
                    select(model.member_id).where(model.member_id.in_([member_id, bystander]))
                )
                assert list(left) == [bystander], model.__name__
