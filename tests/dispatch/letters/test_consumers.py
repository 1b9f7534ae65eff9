"""``member.address_letter_requested`` on the real broker: the letter goes through the Notify
sink with its code and address, once, and dispatch keeps its status but never the address or
the code."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.http import HttpFault
from deploy.sinks.notify import NotifySink
from services.dispatch.letters.consumers import GROUP_ID
from services.dispatch.letters.service import letter_address
from services.dispatch.models import Letter, LetterStatus
from shared.db import utcnow
from shared.events import AddressLetterRequested
from tests.dispatch.helpers import eventually, publish, wait_until_processed


def letter_request(**overrides: object) -> AddressLetterRequested:
    fields: dict[str, object] = {
        "member_id": uuid.uuid4(),
        "letter_id": uuid.uuid4(),
        "recipient_name": "Ada Lovelace",
        "address_lines": ["Flat 2", "1 Acacia Avenue", "Hackney", "London"],
        "postcode": "e8 1aa",
        "code": f"K{uuid.uuid4().hex[:7].upper()}",
        "expires_at": utcnow() + timedelta(days=30),
    }
    fields.update(overrides)
    return AddressLetterRequested.model_validate(fields)


async def letter_row(
    sessions: async_sessionmaker[AsyncSession], letter_id: uuid.UUID
) -> Letter | None:
    async with sessions() as session:
        return await session.get(Letter, letter_id)


@pytest.mark.usefixtures("app")
class TestAddressLetters:
    async def test_posts_the_letter_with_its_code_and_keeps_only_its_status(
        self,
        producer: AIOKafkaProducer,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        request = letter_request()
        await publish(producer, request)

        row = await eventually(lambda: letter_row(sessions, request.letter_id))
        assert row is not None

        [sent] = notify_sink.with_reference(str(request.letter_id))
        assert sent.type == "letter"
        assert sent.personalisation["code"] == request.code
        assert [sent.personalisation[f"address_line_{n}"] for n in range(1, 7)] == [
            "Ada Lovelace", "Flat 2", "1 Acacia Avenue", "Hackney", "London", "E8 1AA",
        ]  # fmt: skip
        assert row.status is LetterStatus.SENT
        assert row.member_id == request.member_id
        assert row.provider_reference == str(sent.id)
        assert row.sent_at is not None
        async with sessions() as session:
            stored = (
                await session.execute(
                    text("SELECT row_to_json(l)::text FROM letters l WHERE letter_id = :id"),
                    {"id": request.letter_id},
                )
            ).scalar_one()
        assert request.code not in stored
        assert "Acacia" not in stored

    async def test_the_same_letter_twice_is_posted_once(
        self,
        producer: AIOKafkaProducer,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        request = letter_request()
        first = await publish(producer, request)
        await wait_until_processed(sessions, GROUP_ID, first.event_id)
        second = await publish(producer, request)  # a new event id for the same letter
        await publish(producer, request, envelope=first)  # and a redelivery
        await wait_until_processed(sessions, GROUP_ID, second.event_id)

        assert len(notify_sink.with_reference(str(request.letter_id))) == 1
        async with sessions() as session:
            rows = await session.scalars(
                select(Letter).where(Letter.letter_id == request.letter_id)
            )
            assert len(rows.all()) == 1

    async def test_a_provider_outage_is_retried_until_the_letter_goes(
        self,
        producer: AIOKafkaProducer,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        request = letter_request(recipient_name=f"Retry {uuid.uuid4().hex[:8]}")
        notify_sink.add_fault(HttpFault(target=request.recipient_name, status=503, times=2))

        await publish(producer, request)
        row = await eventually(lambda: letter_row(sessions, request.letter_id))
        assert row is not None

        assert row.status is LetterStatus.SENT
        assert len(notify_sink.with_reference(str(request.letter_id))) == 1

    async def test_an_expired_code_is_not_posted(
        self,
        producer: AIOKafkaProducer,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        request = letter_request(expires_at=utcnow() - timedelta(minutes=1))
        await publish(producer, request)

        row = await eventually(lambda: letter_row(sessions, request.letter_id))
        assert row is not None

        assert row.status is LetterStatus.FAILED
        assert notify_sink.with_reference(str(request.letter_id)) == []


class TestLetterAddress:
    def test_keeps_seven_lines_at_most_with_the_postcode_last(self) -> None:
        request = letter_request(address_lines=[f"line {n}" for n in range(1, 9)])
        lines = letter_address(request)
        assert len(lines) == 7
        assert lines[0] == "Ada Lovelace"
        assert lines[-2] == "line 5, line 6, line 7, line 8"
        assert lines[-1] == "E8 1AA"
