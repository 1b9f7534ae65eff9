"""Delivering one batch, on a rolled-back session and the real SMTP sink: what is recorded,
what is sent, and when the batch is handed back to the consumer to retry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.infra import free_port
from deploy.sinks.smtp import SmtpSink
from services.dispatch.channels.email import EmailChannel, SmtpServer
from services.dispatch.deliveries.service import BatchReport, DeliveryService
from services.dispatch.errors import ChannelUnavailableError
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus, MemberEndpoint
from tests.dispatch.helpers import add_email_endpoint, recipient_batch, unique_email

VERIFIED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def members_with_email(session: AsyncSession, count: int) -> list[tuple[uuid.UUID, str]]:
    members = [(uuid.uuid4(), unique_email()) for _ in range(count)]
    for member_id, address in members:
        await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
    return members


async def deliveries(session: AsyncSession, alert_id: uuid.UUID) -> dict[uuid.UUID, Delivery]:
    rows = await session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
    return {row.member_id: row for row in rows}


def without_endpoint_count() -> float:
    value = REGISTRY.get_sample_value("tawny_dispatch_recipients_without_endpoint_total")
    return value or 0.0


class TestDeliverBatch:
    async def test_sends_each_member_one_email_and_records_it_sent(
        self, session: AsyncSession, email_channel: EmailChannel, sink: SmtpSink
    ) -> None:
        members = await members_with_email(session, 3)
        batch = recipient_batch([member_id for member_id, _ in members])
        service = DeliveryService(session, channels={ChannelKind.EMAIL: email_channel})

        report = await service.deliver_batch(batch)

        assert (report.sent, report.failed, report.without_endpoint) == (3, 0, 0)
        recorded = await deliveries(session, batch.content.alert_id)
        for member_id, address in members:
            assert recorded[member_id].status is DeliveryStatus.SENT
            assert recorded[member_id].sent_at is not None
            assert recorded[member_id].attempts == 1
            assert recorded[member_id].last_error is None
            [message] = sink.messages_to(address)
            assert batch.content.headline in message.subject

    async def test_a_batch_handled_again_sends_nothing_more(
        self, session: AsyncSession, email_channel: EmailChannel, sink: SmtpSink
    ) -> None:
        [(member_id, address)] = await members_with_email(session, 1)
        batch = recipient_batch([member_id, member_id])
        service = DeliveryService(session, channels={ChannelKind.EMAIL: email_channel})

        first = await service.deliver_batch(batch)
        again = await service.deliver_batch(batch)

        assert (first.sent, first.already_recorded) == (1, 0)
        assert (again.sent, again.already_recorded) == (0, 1)
        assert len(sink.messages_to(address)) == 1

    async def test_members_without_a_usable_endpoint_are_counted_and_sent_nothing(
        self, session: AsyncSession, email_channel: EmailChannel
    ) -> None:
        [(reachable, _)] = await members_with_email(session, 1)
        [(disabled, _)] = await members_with_email(session, 1)
        endpoint = await session.get(MemberEndpoint, (disabled, ChannelKind.EMAIL))
        assert endpoint is not None
        endpoint.disabled_at = VERIFIED_AT
        await session.flush()
        unknown = uuid.uuid4()
        batch = recipient_batch([reachable, disabled, unknown])
        counted_before = without_endpoint_count()

        report = await DeliveryService(
            session, channels={ChannelKind.EMAIL: email_channel}
        ).deliver_batch(batch)

        assert (report.sent, report.without_endpoint) == (1, 2)
        assert without_endpoint_count() - counted_before == 2
        assert set(await deliveries(session, batch.content.alert_id)) == {reachable}

    async def test_a_refused_recipient_is_failed_and_the_others_sent(
        self, session: AsyncSession, email_channel: EmailChannel, sink: SmtpSink
    ) -> None:
        (refused, refused_address), (fine, fine_address) = await members_with_email(session, 2)
        sink.reject(refused_address, "550 5.1.1 No such mailbox")
        batch = recipient_batch([refused, fine])

        report = await DeliveryService(
            session, channels={ChannelKind.EMAIL: email_channel}
        ).deliver_batch(batch)

        assert (report.sent, report.failed) == (1, 1)
        recorded = await deliveries(session, batch.content.alert_id)
        assert recorded[refused].status is DeliveryStatus.FAILED
        assert recorded[refused].last_error == "refused: 550 5.1.1 No such mailbox"
        assert recorded[refused].sent_at is None
        assert recorded[fine].status is DeliveryStatus.SENT
        assert sink.messages_to(refused_address) == []
        assert len(sink.messages_to(fine_address)) == 1

    async def test_a_temporary_failure_beside_accepted_messages_is_recorded_not_raised(
        self, session: AsyncSession, email_channel: EmailChannel, sink: SmtpSink
    ) -> None:
        (later, later_address), (fine, _) = await members_with_email(session, 2)
        sink.reject(later_address, "451 4.7.1 Try again later")
        batch = recipient_batch([later, fine])

        report = await DeliveryService(
            session, channels={ChannelKind.EMAIL: email_channel}
        ).deliver_batch(batch)

        # Raising would roll back, and a retry would send the accepted message again.
        assert (report.sent, report.failed) == (1, 1)
        recorded = await deliveries(session, batch.content.alert_id)
        assert recorded[later].status is DeliveryStatus.FAILED
        assert recorded[later].last_error == (
            "temporary failure, not retried: 451 4.7.1 Try again later"
        )
        assert recorded[fine].status is DeliveryStatus.SENT

    async def test_raises_when_only_temporary_failures_and_nothing_was_accepted(
        self, session: AsyncSession, email_channel: EmailChannel, sink: SmtpSink
    ) -> None:
        (later, later_address), (refused, refused_address) = await members_with_email(session, 2)
        sink.reject(later_address, "451 4.7.1 Try again later")
        sink.reject(refused_address, "550 5.1.1 No such mailbox")

        with pytest.raises(ChannelUnavailableError) as raised:
            await DeliveryService(
                session, channels={ChannelKind.EMAIL: email_channel}
            ).deliver_batch(recipient_batch([later, refused]))

        assert raised.value.extensions["reason"] == "451 4.7.1 Try again later"

    async def test_raises_when_the_mail_server_cannot_be_reached(
        self, session: AsyncSession
    ) -> None:
        members = await members_with_email(session, 2)
        unreachable = EmailChannel(
            SmtpServer(host="127.0.0.1", port=free_port(), starttls=False, timeout_s=2),
            email_from="alerts@tawny.london",
            concurrency=2,
        )

        with pytest.raises(ChannelUnavailableError):
            await DeliveryService(session, channels={ChannelKind.EMAIL: unreachable}).deliver_batch(
                recipient_batch([member_id for member_id, _ in members])
            )

    async def test_an_empty_batch_does_nothing(
        self, session: AsyncSession, email_channel: EmailChannel
    ) -> None:
        report = await DeliveryService(
            session, channels={ChannelKind.EMAIL: email_channel}
        ).deliver_batch(recipient_batch([]))

        assert report == BatchReport(
            members=0, sent=0, failed=0, already_recorded=0, without_endpoint=0
        )
