"""Each channel's workers claim only their own channel's deliveries: a slow SMTP server never
holds up an alert's pushes, a claim keeps its newest share and its lease within its channel,
and a wake-up reaches every channel's workers. Each test on a database of its own, so that no
other test's due rows come first in a claim."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.fcm import FcmSink
from deploy.sinks.smtp import Fault, SmtpSink
from deploy.sinks.webpush import WebPushSink
from services.dispatch.channels.base import Channel
from services.dispatch.channels.email import EmailChannel
from services.dispatch.channels.fcm import FcmChannel
from services.dispatch.channels.webpush import (
    PushSubscription,
    WebPushChannel,
    subscription_address,
)
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.repository import DeliveryRepository, Lease
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.deliveries.worker import DeliveryWorker
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import session_scope
from shared.events import AlertContent
from tests.dispatch.helpers import (
    alert_content,
    driven_worker_settings,
    recipient_batch,
    unique_email,
)
from tests.support.waiting import eventually

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
# How long the SMTP sink holds each of the test's messages before answering: the pushes are
# all out long before the email that was due first.
SMTP_DELAY_S = 1.5
MEMBERS = 12
CLAIM_SIZE = 4


def fcm_token() -> str:
    return f"device-{uuid.uuid4().hex}:APA91b{'x' * 20}"


def worker_for(
    sessions: async_sessionmaker[AsyncSession],
    channels: Mapping[ChannelKind, Channel],
    *,
    poll_interval_s: float = 0.05,
    idle_poll_max_s: float = 0.5,
) -> DeliveryWorker:
    # One worker per channel, so that nothing but claiming by channel lets a push go out
    # while an email chunk is in hand.
    return DeliveryWorker(
        sessions=sessions,
        channels=channels,
        settings=driven_worker_settings(
            claim_size=CLAIM_SIZE,
            poll_interval_s=poll_interval_s,
            idle_poll_max_s=idle_poll_max_s,
            tasks=1,
        ),
    )


@contextlib.asynccontextmanager
async def running(worker: DeliveryWorker) -> AsyncIterator[None]:
    """The worker's loops, as the app runs them; on leaving, shut down as on SIGTERM (each
    chunk in hand finishes)."""
    task = asyncio.create_task(worker.run_workers())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def record(
    sessions: async_sessionmaker[AsyncSession],
    content: AlertContent,
    addresses: dict[ChannelKind, list[str]],
    *,
    members: list[uuid.UUID] | None = None,
) -> list[uuid.UUID]:
    """Members (new ones unless given) with the given addresses (the i-th member has the i-th
    on each channel), and the alert recorded for them on those channels, in one batch as the
    consumer records it."""
    count = len(next(iter(addresses.values())))
    members = members or [uuid.uuid4() for _ in range(count)]
    async with session_scope(sessions) as session:
        endpoints = MemberEndpointRepository(session)
        for channel, of_channel in addresses.items():
            for member_id, address in zip(members, of_channel, strict=True):
                await endpoints.record_verified(
                    member_id=member_id, channel=channel, address=address, verified_at=VERIFIED_AT
                )
        await DeliveryService(session, channels=tuple(addresses)).record_batch(
            recipient_batch(members, content=content)
        )
    return members


async def statuses(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> Counter[tuple[ChannelKind, DeliveryStatus]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.alert_id == alert_id)
            .group_by(Delivery.channel, Delivery.status)
        )
        return Counter({(channel, status): count for channel, status, count in rows.all()})


@pytest.fixture
async def fcm_channel(settings: DispatchSettings) -> AsyncIterator[FcmChannel]:
    channel = FcmChannel.from_settings(settings)
    assert channel is not None
    yield channel
    await channel.close()


class TestSlowChannel:
    async def test_an_alerts_pushes_are_all_delivered_while_its_email_is_still_being_sent(
        self,
        own_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        webpush_channel: WebPushChannel,
        fcm_channel: FcmChannel,
        sink: SmtpSink,
        webpush_sink: WebPushSink,
        fcm_sink: FcmSink,
    ) -> None:
        emails = [unique_email("slow-smtp") for _ in range(MEMBERS)]
        for address in emails:
            sink.add_fault(Fault(address=address, delay_s=SMTP_DELAY_S, times=1))
        subscriptions = [
            webpush_sink.subscribe(webpush_channel.signer.application_server_key)
            for _ in range(MEMBERS)
        ]
        pushes = [
            subscription_address(
                PushSubscription(
                    endpoint=s["endpoint"], p256dh=s["keys"]["p256dh"], auth=s["keys"]["auth"]
                )
            )
            for s in subscriptions
        ]
        tokens = [fcm_token() for _ in range(MEMBERS)]
        content = alert_content(severity="Extreme", urgency="Immediate")
        # The email rows are recorded first, so that they are the longest due: claimed in one
        # queue with the pushes, every push would wait behind every chunk of slow email.
        members = await record(own_sessions, content, {ChannelKind.EMAIL: emails})
        await record(
            own_sessions,
            content,
            {ChannelKind.WEBPUSH: pushes, ChannelKind.FCM: tokens},
            members=members,
        )
        worker = worker_for(
            own_sessions,
            {
                ChannelKind.EMAIL: email_channel,
                ChannelKind.WEBPUSH: webpush_channel,
                ChannelKind.FCM: fcm_channel,
            },
        )

        async def pushes_all_sent() -> Counter[tuple[ChannelKind, DeliveryStatus]] | None:
            found = await statuses(own_sessions, content.alert_id)
            pushed = (ChannelKind.WEBPUSH, ChannelKind.FCM)
            return (
                found if all(found[(c, DeliveryStatus.SENT)] == MEMBERS for c in pushed) else None
            )

        async def email_all_sent() -> bool:
            found = await statuses(own_sessions, content.alert_id)
            return found[(ChannelKind.EMAIL, DeliveryStatus.SENT)] == MEMBERS

        async with running(worker):
            when_pushed = await eventually(pushes_all_sent, interval_s=0.05)
            await eventually(email_all_sent)

        # Email at the sink's pace (CLAIM_SIZE messages every SMTP_DELAY_S) had most of its
        # way to go when the last push was recorded.
        assert when_pushed[(ChannelKind.EMAIL, DeliveryStatus.SENT)] < MEMBERS / 2
        for subscription in subscriptions:
            assert len(webpush_sink.received(subscription)) == 1
        for token in tokens:
            assert len(fcm_sink.messages_to(token)) == 1
        for address in emails:
            assert len(sink.messages_to(address)) == 1


class TestClaimByChannel:
    async def test_takes_only_its_channels_rows_under_the_lease(
        self, own_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        content = alert_content()
        emails, tokens = [unique_email() for _ in range(5)], [fcm_token() for _ in range(5)]
        await record(
            own_sessions,
            content,
            {ChannelKind.EMAIL: emails, ChannelKind.FCM: tokens},
        )
        lease = Lease(holder=f"fcm-worker-{uuid.uuid4().hex[:8]}", duration_s=60)

        async with session_scope(own_sessions) as session:
            claimed = await DeliveryRepository(session).claim(
                limit=100, lease=lease, channel=ChannelKind.FCM
            )

        assert {row.channel for row in claimed} == {ChannelKind.FCM}
        assert len(claimed) == 5
        async with own_sessions() as session:
            rows = (
                await session.scalars(select(Delivery).where(Delivery.alert_id == content.alert_id))
            ).all()
            database_now = await session.scalar(select(func.now()))
        assert database_now is not None
        for row in rows:
            if row.channel is ChannelKind.FCM:
                assert (row.status, row.attempts, row.claimed_by) == (
                    DeliveryStatus.SENDING,
                    1,
                    lease.holder,
                )
                assert row.lease_expires_at is not None and row.lease_expires_at > database_now
            else:
                assert (row.status, row.attempts, row.claimed_by) == (
                    DeliveryStatus.CREATED,
                    0,
                    None,
                )
        # The email rows are left for the email workers, and one renewal keeps both claims.
        async with session_scope(own_sessions) as session:
            repository = DeliveryRepository(session)
            by_email = await repository.claim(limit=100, lease=lease, channel=ChannelKind.EMAIL)
            assert {row.channel for row in by_email} == {ChannelKind.EMAIL}
            assert len(by_email) == 5
            assert await repository.renew_leases(lease) == 10

    async def test_takes_the_most_urgent_of_its_channel_and_a_share_of_its_newest(
        self, own_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        # A London-wide alert, then a ward alert after it, less urgent and due later: the ward
        # alert's email rows are the newest of all, and none of them may take the FCM claim's
        # share.
        big = alert_content(severity="Extreme", urgency="Immediate")
        small = alert_content(severity="Minor", urgency="Future")
        for content, place, count in ((big, "london", 30), (small, "ward", 3)):
            emails = [unique_email(place) for _ in range(count)]
            tokens = [fcm_token() for _ in range(count)]
            await record(
                own_sessions, content, {ChannelKind.EMAIL: emails, ChannelKind.FCM: tokens}
            )

        async with session_scope(own_sessions) as session:
            claimed = await DeliveryRepository(session).claim(
                limit=10,
                lease=Lease.for_this_process(60),
                newest_share=3,
                channel=ChannelKind.FCM,
            )

        assert {row.channel for row in claimed} == {ChannelKind.FCM}
        by_alert = Counter(row.alert_id for row in claimed)
        assert by_alert == {small.alert_id: 3, big.alert_id: 7}


class TestWakeUps:
    async def test_a_wake_up_reaches_every_channels_idle_workers(
        self,
        own_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        fcm_channel: FcmChannel,
        sink: SmtpSink,
        fcm_sink: FcmSink,
    ) -> None:
        # Idle, each channel's workers look again only after ``idle_s``: far beyond the wait
        # below, so only the wake-up can have them claim.
        idle_s = 600.0
        worker = worker_for(
            own_sessions,
            {ChannelKind.EMAIL: email_channel, ChannelKind.FCM: fcm_channel},
            poll_interval_s=idle_s,
            idle_poll_max_s=idle_s,
        )
        content = alert_content()
        email, token = unique_email(), fcm_token()

        async with running(worker):
            # Time for both channels' workers to claim nothing and start pausing. Had they not
            # yet, they would find the rows on their own: the test would prove less, never fail.
            await asyncio.sleep(0.5)
            await record(
                own_sessions,
                content,
                {ChannelKind.EMAIL: [email], ChannelKind.FCM: [token]},
            )
            worker.wake()

            async def both_sent() -> bool:
                found = await statuses(own_sessions, content.alert_id)
                return found == {
                    (ChannelKind.EMAIL, DeliveryStatus.SENT): 1,
                    (ChannelKind.FCM, DeliveryStatus.SENT): 1,
                }

            await eventually(both_sent, timeout_s=60)

        assert len(sink.messages_to(email)) == 1
        assert len(fcm_sink.messages_to(token)) == 1
