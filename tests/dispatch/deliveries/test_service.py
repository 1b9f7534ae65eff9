"""Recording one batch, on a rolled-back session: which rows, in which status, and the pending
rows of members who cannot be reached yet. Nothing is sent here: the workers send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.deliveries.repository import DeliveryRepository
from services.dispatch.deliveries.service import BatchReport, DeliveryService, channels_for
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    DispatchAlert,
    Priority,
)
from shared.db import utcnow
from tests.dispatch.helpers import (
    DEAD_WORKER,
    add_email_endpoint,
    alert_content,
    endpoint_of,
    recipient_batch,
    unique_email,
)

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


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


class TestRecordBatch:
    async def test_records_one_created_row_per_member_and_the_alert_once(
        self, session: AsyncSession
    ) -> None:
        members = await members_with_email(session, 3)
        batch = recipient_batch([member_id for member_id, _ in members])

        report = await DeliveryService(session).record_batch(batch)

        assert report == BatchReport(members=3, created=3, pending=0, already_recorded=0)
        recorded = await deliveries(session, batch.content.alert_id)
        assert {row.status for row in recorded.values()} == {DeliveryStatus.CREATED}
        assert {row.attempts for row in recorded.values()} == {0}
        stored = await session.get(DispatchAlert, batch.content.alert_id)
        assert stored is not None
        assert stored.content["headline"] == batch.content.headline

    async def test_a_batch_recorded_again_records_nothing_more(self, session: AsyncSession) -> None:
        [(member_id, _)] = await members_with_email(session, 1)
        batch = recipient_batch([member_id, member_id])
        service = DeliveryService(session)

        first = await service.record_batch(batch)
        again = await service.record_batch(batch)

        assert (first.created, first.already_recorded) == (1, 0)
        assert (again.created, again.already_recorded) == (1, 1)
        assert len(await deliveries(session, batch.content.alert_id)) == 1

    async def test_members_without_a_usable_endpoint_are_kept_pending(
        self, session: AsyncSession
    ) -> None:
        [(reachable, _)] = await members_with_email(session, 1)
        [(disabled, _)] = await members_with_email(session, 1)
        endpoint = await endpoint_of(session, disabled, ChannelKind.EMAIL)
        assert endpoint is not None
        endpoint.disabled_at = VERIFIED_AT
        await session.flush()
        unknown = uuid.uuid4()
        batch = recipient_batch([reachable, disabled, unknown])
        counted_before = without_endpoint_count()

        report = await DeliveryService(session).record_batch(batch)

        assert (report.created, report.pending) == (1, 2)
        assert without_endpoint_count() - counted_before == 2
        recorded = await deliveries(session, batch.content.alert_id)
        assert recorded[reachable].status is DeliveryStatus.CREATED
        assert recorded[disabled].status is DeliveryStatus.PENDING
        assert recorded[unknown].status is DeliveryStatus.PENDING
        assert recorded[unknown].channel is ChannelKind.EMAIL

    async def test_immediate_or_extreme_alerts_are_recorded_urgent(
        self, session: AsyncSession
    ) -> None:
        [(member_id, _)] = await members_with_email(session, 1)
        immediate = recipient_batch([member_id], content=alert_content(urgency="Immediate"))
        extreme = recipient_batch([member_id], content=alert_content(severity="Extreme"))
        normal = recipient_batch([member_id])
        service = DeliveryService(session)

        for batch in (immediate, extreme, normal):
            await service.record_batch(batch)

        priorities = [
            (await deliveries(session, batch.content.alert_id))[member_id].priority
            for batch in (immediate, extreme, normal)
        ]
        assert priorities == [Priority.URGENT, Priority.URGENT, Priority.NORMAL]

    async def test_an_empty_batch_records_nothing(self, session: AsyncSession) -> None:
        report = await DeliveryService(session).record_batch(recipient_batch([]))

        assert report == BatchReport(members=0, created=0, pending=0, already_recorded=0)


class TestChannels:
    def test_picks_every_offered_channel_the_member_can_be_reached_on(self) -> None:
        offered = (ChannelKind.EMAIL, ChannelKind.WEBPUSH)

        assert channels_for({ChannelKind.WEBPUSH, ChannelKind.EMAIL}, offered) == list(offered)
        assert channels_for({ChannelKind.WEBPUSH, ChannelKind.SMS}, offered) == [
            ChannelKind.WEBPUSH
        ]
        assert channels_for(set(), offered) == []

    async def test_one_row_per_channel_with_a_usable_endpoint(self, session: AsyncSession) -> None:
        both, push_only, push_disabled, nothing = (uuid.uuid4() for _ in range(4))
        endpoints = MemberEndpointRepository(session)
        await add_email_endpoint(session, both, unique_email(), verified_at=VERIFIED_AT)
        for member_id in (both, push_only, push_disabled):
            await endpoints.record_verified(
                member_id=member_id,
                channel=ChannelKind.WEBPUSH,
                address=f'{{"endpoint":"https://push.example.org/{member_id}"}}',
                verified_at=VERIFIED_AT,
            )
        await endpoints.disable(
            member_id=push_disabled,
            channel=ChannelKind.WEBPUSH,
            address=f'{{"endpoint":"https://push.example.org/{push_disabled}"}}',
        )
        batch = recipient_batch([both, push_only, push_disabled, nothing])

        report = await DeliveryService(
            session, channels=(ChannelKind.EMAIL, ChannelKind.WEBPUSH)
        ).record_batch(batch)

        rows = await session.scalars(
            select(Delivery).where(Delivery.alert_id == batch.content.alert_id)
        )
        recorded = {(row.member_id, row.channel): row.status for row in rows}
        assert recorded == {
            (both, ChannelKind.EMAIL): DeliveryStatus.CREATED,
            (both, ChannelKind.WEBPUSH): DeliveryStatus.CREATED,
            (push_only, ChannelKind.WEBPUSH): DeliveryStatus.CREATED,
            # No usable endpoint at all: pending on email, as before.
            (push_disabled, ChannelKind.EMAIL): DeliveryStatus.PENDING,
            (nothing, ChannelKind.EMAIL): DeliveryStatus.PENDING,
        }
        assert report == BatchReport(members=4, created=3, pending=2, already_recorded=0)

    async def test_a_dispatcher_records_only_the_channels_it_sends(
        self, session: AsyncSession
    ) -> None:
        member_id = uuid.uuid4()
        await add_email_endpoint(session, member_id, unique_email(), verified_at=VERIFIED_AT)
        await MemberEndpointRepository(session).record_verified(
            member_id=member_id,
            channel=ChannelKind.WEBPUSH,
            address='{"endpoint":"https://push.example.org/x"}',
            verified_at=VERIFIED_AT,
        )
        batch = recipient_batch([member_id])

        await DeliveryService(session, channels=(ChannelKind.EMAIL,)).record_batch(batch)

        rows = await session.scalars(
            select(Delivery.channel).where(Delivery.alert_id == batch.content.alert_id)
        )
        assert list(rows) == [ChannelKind.EMAIL]


class TestPending:
    async def test_a_verified_endpoint_releases_the_members_pending_deliveries(
        self, session: AsyncSession
    ) -> None:
        member_id = uuid.uuid4()
        batch = recipient_batch([member_id])
        service = DeliveryService(session)
        await service.record_batch(batch)

        await add_email_endpoint(session, member_id, unique_email(), verified_at=VERIFIED_AT)
        released = await service.release_pending_for(member_id)

        assert released == 1
        row = (await deliveries(session, batch.content.alert_id))[member_id]
        assert row.status is DeliveryStatus.CREATED
        # Pointed at the address it now goes to (a pending row has none).
        endpoint = await endpoint_of(session, member_id, ChannelKind.EMAIL)
        assert endpoint is not None and row.endpoint_id == endpoint.id

    async def test_nothing_is_released_for_an_alert_that_has_expired(
        self, session: AsyncSession
    ) -> None:
        member_id = uuid.uuid4()
        batch = recipient_batch(
            [member_id], content=alert_content(expires=utcnow() - timedelta(minutes=1))
        )
        service = DeliveryService(session)
        await service.record_batch(batch)
        await add_email_endpoint(session, member_id, unique_email(), verified_at=VERIFIED_AT)

        assert await service.release_pending_for(member_id) == 0
        assert await DeliveryRepository(session).expire_pending() >= 1
        row = (await deliveries(session, batch.content.alert_id))[member_id]
        assert row.status is DeliveryStatus.FAILED
        assert row.last_error == "no usable endpoint before the alert expired"

    async def test_an_alert_without_expiry_waits_pending_max_age_after_it_was_sent(
        self, session: AsyncSession
    ) -> None:
        sent_at = utcnow() - timedelta(hours=2)
        batch = recipient_batch([uuid.uuid4()], content=alert_content(sent_at=sent_at))

        await DeliveryService(session, pending_max_age=timedelta(hours=1)).record_batch(batch)

        stored = await session.get(DispatchAlert, batch.content.alert_id)
        assert stored is not None and stored.deliver_until == sent_at + timedelta(hours=1)


class TestClaim:
    async def test_urgent_deliveries_are_claimed_first(self, session: AsyncSession) -> None:
        [(member_id, _)] = await members_with_email(session, 1)
        service = DeliveryService(session)
        normal = recipient_batch([member_id])
        urgent = recipient_batch([member_id], content=alert_content(urgency="Immediate"))
        await service.record_batch(normal)
        await service.record_batch(urgent)

        [claimed] = await DeliveryRepository(session).claim(limit=1, lease=DEAD_WORKER)

        assert claimed.alert_id == urgent.content.alert_id
        assert claimed.attempts == 1
        row = (await deliveries(session, urgent.content.alert_id))[member_id]
        await session.refresh(row)
        assert row.status is DeliveryStatus.SENDING and row.claimed_at is not None
        assert row.claimed_by == DEAD_WORKER.holder and row.lease_expires_at is not None
