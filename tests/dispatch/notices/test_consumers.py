"""Account notices from identity, through Kafka, into dispatch running in-process, out through
the SMTP sink: one email per notice id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import Fault, ReceivedMessage, SmtpSink
from services.dispatch.members.consumers import GROUP_ID
from services.dispatch.models import SentNotice
from services.dispatch.preferences.rules import Preferences
from services.dispatch.preferences.service import PreferencesService
from shared.events import MemberNoticeRequested
from tests.dispatch.helpers import (
    add_email_endpoint,
    eventually,
    publish,
    unique_email,
    wait_until_processed,
)

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def notice(member_id: uuid.UUID) -> MemberNoticeRequested:
    return MemberNoticeRequested(
        member_id=member_id,
        notice_id=uuid.uuid4(),
        kind="coordinator_approved",
        subject="You are now a street coordinator",
        body="Your request to coordinate Acacia Avenue was approved.\n\nThank you.",
    )


class TestMemberNoticeRequested:
    async def test_emails_the_notice_once_even_when_it_comes_twice(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sink: SmtpSink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id, address = uuid.uuid4(), unique_email("notice")
        async with sessions.begin() as session:
            await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
            # Unsubscribing from alerts does not stop account notices.
            await PreferencesService(session).replace(member_id, Preferences(unsubscribed_all=True))
        requested = notice(member_id)

        await publish(producer, requested)

        async def mail() -> list[ReceivedMessage]:
            return sink.messages_to(address)

        [message] = await eventually(mail)
        assert message.subject == "You are now a street coordinator"
        assert message.text.startswith("Your request to coordinate Acacia Avenue was approved.")
        assert message.html is not None and '<html lang="en">' in message.html
        assert message.headers["Message-ID"] == f"<notice-{requested.notice_id}@tawny.london>"
        assert "List-Unsubscribe" not in message.headers

        # The same notice again under a new event id: recorded, not sent again.
        again = await publish(producer, requested)
        await wait_until_processed(sessions, GROUP_ID, again.event_id)
        assert len(sink.messages_to(address)) == 1

    async def test_a_temporary_failure_is_retried_and_then_sent(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sink: SmtpSink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id, address = uuid.uuid4(), unique_email("notice-later")
        async with sessions.begin() as session:
            await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
        sink.faults.add(Fault(address=address, reply="451 4.3.0 try later", times=1))
        requested = notice(member_id)

        envelope = await publish(producer, requested)
        await wait_until_processed(sessions, GROUP_ID, envelope.event_id)

        assert len(sink.messages_to(address)) == 1
        async with sessions() as session:
            assert await session.get(SentNotice, requested.notice_id) is not None

    async def test_a_member_without_an_address_gets_nothing(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        requested = notice(uuid.uuid4())

        envelope = await publish(producer, requested)
        await wait_until_processed(sessions, GROUP_ID, envelope.event_id)

        async with sessions() as session:
            assert await session.get(SentNotice, requested.notice_id) is None
