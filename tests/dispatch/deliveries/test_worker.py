"""The delivery worker and sweeper, driven by hand on a database no running app works on, sending
to the real SMTP sink told to misbehave: retries, permanent failures, stuck and pending rows."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.trace import Tracer
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import Fault, SmtpSink
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.leases import LeaseKeeper
from services.dispatch.deliveries.repository import (
    ClaimedDelivery,
    DeliveryRepository,
    DeliveryResult,
    Lease,
)
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.deliveries.worker import DeliveryWorker, retry_delay
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from services.dispatch.preferences.rules import DEFAULT_PREFERENCES
from services.dispatch.preferences.service import PreferencesService
from services.dispatch.ratelimits.service import RateLimit, SharedTokenBucket
from shared.db import session_scope, utcnow
from shared.events import AlertContent, AlertTranslation, RecipientBatch
from tests.dispatch.helpers import (
    DEAD_WORKER,
    add_email_endpoint,
    alert_content,
    driven_worker_settings,
    endpoint_of,
    recipient_batch,
    unique_email,
)
from tests.support.waiting import eventually

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def worker_for(
    sessions: async_sessionmaker[AsyncSession],
    channel: EmailChannel,
    *,
    tracer: Tracer | None = None,
    rate_limits: Mapping[ChannelKind, SharedTokenBucket] | None = None,
    **overrides: float,
) -> DeliveryWorker:
    # Leases that outlast any test unless it says otherwise.
    options: dict[str, float] = {
        "lease_s": 60,
        "lease_renew_interval_s": 20,
        "rate_wait_s": 30,
        "record_slice": 10,
    }
    options.update(overrides)
    return DeliveryWorker(
        sessions=sessions,
        channels={ChannelKind.EMAIL: channel},
        settings=driven_worker_settings(**options),
        tracer=tracer,
        rate_limits=rate_limits,
    )


async def send_whatever_is_due(worker: DeliveryWorker) -> None:
    """What earlier tests left due in the shared database, out of the way of this test's."""
    while await worker.run_once():
        pass


def published_to_sent_count(sample: str = "count") -> float:
    return (
        REGISTRY.get_sample_value(
            f"tawny_dispatch_publish_to_send_seconds_{sample}",
            {"channel": "email", "severity": "Severe"},
        )
        or 0.0
    )


async def recorded_batch(
    sessions: async_sessionmaker[AsyncSession],
    addresses: list[str],
    *,
    content: AlertContent | None = None,
) -> tuple[RecipientBatch, list[uuid.UUID]]:
    members = [uuid.uuid4() for _ in addresses]
    async with session_scope(sessions) as session:
        for member_id, address in zip(members, addresses, strict=True):
            await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
        batch = recipient_batch(members, content=content)
        await DeliveryService(session).record_batch(batch)
    return batch, members


async def rows_of(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> dict[uuid.UUID, Delivery]:
    async with sessions() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        return {row.member_id: row for row in rows}


async def drain_until_final(
    worker: DeliveryWorker, sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> dict[uuid.UUID, Delivery]:
    """Run the worker until every row of the alert is ``sent`` or ``failed``."""
    for _ in range(200):
        await worker.run_once()
        rows = await rows_of(sessions, alert_id)
        if all(row.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED) for row in rows.values()):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError("the deliveries never finished")


class TestSending:
    async def test_sends_each_delivery_once_and_records_it_sent(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        await send_whatever_is_due(worker_for(quiet_sessions, email_channel))
        addresses = [unique_email() for _ in range(3)]
        batch, members = await recorded_batch(quiet_sessions, addresses)
        observed_before = published_to_sent_count()

        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel), quiet_sessions, batch.content.alert_id
        )

        for member_id, address in zip(members, addresses, strict=True):
            assert rows[member_id].status is DeliveryStatus.SENT
            assert rows[member_id].sent_at is not None and rows[member_id].attempts == 1
            [message] = sink.messages_to(address)
            # The Message-ID is the delivery's: a resend after a crash carries the same one.
            assert message.headers["Message-ID"].startswith(f"<{rows[member_id].id}@")
        # Each accepted message is one observation of the publish-to-send time (the helper's
        # alerts are Severe, published a minute before the test).
        assert published_to_sent_count() == observed_before + 3
        assert (published_to_sent_count("sum") or 0) >= 3 * 60

    async def test_a_chunk_is_sent_whole_when_the_content_cache_is_cleared_for_it(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The whole year's replay lost 168 recipients as 'the alert is unknown': a chunk held
        rows of an alert already cached and of one that was not, the cache was full, and
        clearing it for the new alert dropped the cached one's content from the chunk."""
        monkeypatch.setattr("services.dispatch.deliveries.worker.CONTENT_CACHE_MAX", 1)
        worker = worker_for(quiet_sessions, email_channel)
        await send_whatever_is_due(worker)
        cached = alert_content()
        first, _ = await recorded_batch(quiet_sessions, [unique_email()], content=cached)
        await drain_until_final(worker, quiet_sessions, first.content.alert_id)
        # More recipients of the cached alert, and a new alert, due in one chunk.
        await recorded_batch(quiet_sessions, [unique_email()], content=cached)
        second, _ = await recorded_batch(quiet_sessions, [unique_email()])

        await worker.run_once()

        for alert_id in (cached.alert_id, second.content.alert_id):
            rows = await rows_of(quiet_sessions, alert_id)
            assert {row.status for row in rows.values()} == {DeliveryStatus.SENT}, [
                row.last_error for row in rows.values()
            ]

    async def test_a_temporary_failure_is_retried_until_it_succeeds(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        flaky, fine = unique_email("flaky"), unique_email()
        sink.add_fault(Fault(address=flaky, reply="451 4.7.1 Try again later", times=2))
        batch, (flaky_member, fine_member) = await recorded_batch(quiet_sessions, [flaky, fine])

        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel), quiet_sessions, batch.content.alert_id
        )

        assert rows[flaky_member].status is DeliveryStatus.SENT
        assert rows[flaky_member].attempts == 3
        assert rows[fine_member].attempts == 1
        assert len(sink.messages_to(flaky)) == 1
        assert len(sink.messages_to(fine)) == 1

    async def test_a_temporary_failure_becomes_failed_after_the_last_attempt(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("busy")
        sink.add_fault(Fault(address=address, reply="452 4.2.2 Mailbox full"))
        batch, [member_id] = await recorded_batch(quiet_sessions, [address])

        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel, max_attempts=3),
            quiet_sessions,
            batch.content.alert_id,
        )

        assert rows[member_id].status is DeliveryStatus.FAILED
        assert rows[member_id].attempts == 3
        assert rows[member_id].last_error == "gave up after 3 attempts: 452 4.2.2 Mailbox full"
        assert sink.messages_to(address) == []

    async def test_a_dropped_connection_is_retried(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("dropped")
        sink.add_fault(Fault(address=address, drop_connection=True, times=1))
        batch, [member_id] = await recorded_batch(quiet_sessions, [address])

        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel), quiet_sessions, batch.content.alert_id
        )

        assert rows[member_id].status is DeliveryStatus.SENT
        assert rows[member_id].attempts == 2
        assert len(sink.messages_to(address)) == 1

    async def test_a_mailbox_that_does_not_exist_fails_and_disables_the_endpoint(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("gone")
        sink.reject(address, "550 5.1.1 No such mailbox")
        batch, [member_id] = await recorded_batch(quiet_sessions, [address])
        worker = worker_for(quiet_sessions, email_channel)

        rows = await drain_until_final(worker, quiet_sessions, batch.content.alert_id)

        assert rows[member_id].status is DeliveryStatus.FAILED
        assert rows[member_id].attempts == 1
        assert rows[member_id].last_error == "refused: 550 5.1.1 No such mailbox"
        async with quiet_sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.EMAIL)
            assert endpoint is not None and endpoint.disabled_at is not None
            # The next alert waits for a new address instead of bouncing again.
            next_alert = recipient_batch([member_id])
            report = await DeliveryService(session).record_batch(next_alert)
            assert report.pending == 1

    async def test_content_refused_for_good_does_not_disable_the_endpoint(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("policy")
        sink.reject(address, "554 5.7.1 Message refused")
        batch, [member_id] = await recorded_batch(quiet_sessions, [address])

        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel), quiet_sessions, batch.content.alert_id
        )

        assert rows[member_id].status is DeliveryStatus.FAILED
        async with quiet_sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.EMAIL)
            assert endpoint is not None and endpoint.disabled_at is None


class TestSharedRateLimit:
    async def test_sends_only_what_the_provider_limit_grants_and_gives_the_rest_back(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        # Whatever other tests left due is sent first, so that the tokens go to this batch.
        await send_whatever_is_due(worker_for(quiet_sessions, email_channel))
        addresses = [unique_email("limited") for _ in range(3)]
        batch, _members = await recorded_batch(quiet_sessions, addresses)
        # Two tokens, refilled far too slowly to matter, and no time to wait for more.
        limit = RateLimit(f"test-{uuid.uuid4().hex[:8]}", rate_per_s=0.001, burst=2)
        worker = worker_for(
            quiet_sessions,
            email_channel,
            rate_wait_s=0,
            rate_limits={ChannelKind.EMAIL: SharedTokenBucket(quiet_sessions, limit)},
        )

        assert await worker.run_once() == 3

        rows = await rows_of(quiet_sessions, batch.content.alert_id)
        statuses = sorted(row.status.value for row in rows.values())
        assert statuses == ["created", "sent", "sent"]
        [waiting] = [row for row in rows.values() if row.status is DeliveryStatus.CREATED]
        # Not attempted: the attempt does not count towards max_attempts.
        assert waiting.attempts == 0 and "rate limit" in (waiting.last_error or "")
        assert sum(len(sink.messages_to(address)) for address in addresses) == 2


class TestLanguages:
    async def test_each_member_reads_the_alert_in_the_language_they_chose_if_it_has_it(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        welsh, polish, english = (unique_email() for _ in range(3))
        members = {address: uuid.uuid4() for address in (welsh, polish, english)}
        content = alert_content(
            headline="Shed burglaries on Acacia Avenue",
            translations=[
                AlertTranslation(
                    language="cy-GB",
                    headline="Byrgleriaethau siediau ar Acacia Avenue",
                    body="Torrwyd i mewn i sawl sied dros nos.",
                )
            ],
        )
        async with session_scope(quiet_sessions) as session:
            for address, member_id in members.items():
                await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
            preferences = PreferencesService(session)
            for address, language in ((welsh, "cy"), (polish, "pl")):
                await preferences.replace(
                    members[address], replace(DEFAULT_PREFERENCES, language=language)
                )
            await DeliveryService(session).record_batch(
                recipient_batch(list(members.values()), content=content)
            )

        await drain_until_final(
            worker_for(quiet_sessions, email_channel), quiet_sessions, content.alert_id
        )

        [in_welsh] = sink.messages_to(welsh)
        assert "Byrgleriaethau siediau" in in_welsh.subject
        assert "Torrwyd i mewn" in in_welsh.text
        # No Polish text: the alert as written.
        for address in (polish, english):
            [as_written] = sink.messages_to(address)
            assert "Shed burglaries on Acacia Avenue" in as_written.subject


# A claim whose holder died at once: its lease lapses moments later and is never renewed.
def lapsing_lease() -> Lease:
    return Lease(holder=f"died-{uuid.uuid4().hex[:8]}", duration_s=0.3)


async def lease_lapsed(sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID) -> bool:
    async with sessions() as session:
        lapsed = await session.scalar(
            select(func.bool_and(Delivery.lease_expires_at < func.now())).where(
                Delivery.alert_id == alert_id
            )
        )
        return bool(lapsed)


async def recorded_and_claimed(
    sessions: async_sessionmaker[AsyncSession], lease: Lease
) -> tuple[RecipientBatch, uuid.UUID, list[ClaimedDelivery]]:
    """One member's delivery, claimed with everything else due under ``lease``, by a worker
    that records nothing."""
    batch, [member_id] = await recorded_batch(sessions, [unique_email()])
    async with session_scope(sessions) as session:
        claimed = await DeliveryRepository(session).claim(limit=1000, lease=lease)
    return batch, member_id, claimed


class TestLeases:
    async def test_resumes_a_delivery_whose_worker_died_long_before_the_sending_timeout(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("stuck")
        batch, [member_id] = await recorded_batch(quiet_sessions, [address])
        # A worker claims everything due, then "dies" without recording or renewing anything.
        async with session_scope(quiet_sessions) as session:
            claimed = await DeliveryRepository(session).claim(limit=1000, lease=lapsing_lease())
        assert batch.content.alert_id in {row.alert_id for row in claimed}
        worker = worker_for(quiet_sessions, email_channel, sending_timeout_s=3600)

        await eventually(lambda: lease_lapsed(quiet_sessions, batch.content.alert_id))
        report = await worker.sweep()
        rows = await drain_until_final(worker, quiet_sessions, batch.content.alert_id)

        assert report.resumed >= 1
        assert rows[member_id].status is DeliveryStatus.SENT
        assert rows[member_id].attempts == 2
        assert rows[member_id].claimed_by == worker.lease.holder
        assert len(sink.messages_to(address)) == 1

    async def test_a_live_chunk_is_not_taken_back(
        self, quiet_sessions: async_sessionmaker[AsyncSession], email_channel: EmailChannel
    ) -> None:
        batch, member_id, _claimed = await recorded_and_claimed(quiet_sessions, DEAD_WORKER)

        await worker_for(quiet_sessions, email_channel, sending_timeout_s=60).sweep()

        rows = await rows_of(quiet_sessions, batch.content.alert_id)
        assert rows[member_id].status is DeliveryStatus.SENDING

    async def test_a_renewed_lease_keeps_a_slow_chunk_from_the_sweeper(
        self, quiet_sessions: async_sessionmaker[AsyncSession], email_channel: EmailChannel
    ) -> None:
        # Renewed thirty times per lease: only a stall of seconds could let it lapse.
        lease = Lease(holder=f"alive-{uuid.uuid4().hex[:8]}", duration_s=3)
        batch, member_id, _claimed = await recorded_and_claimed(quiet_sessions, lease)
        keeper = LeaseKeeper(sessions=quiet_sessions, lease=lease, renew_every_s=0.1)
        renewing = asyncio.create_task(keeper.run())
        sweeper = worker_for(quiet_sessions, email_channel, sending_timeout_s=3600)
        try:
            # Sweep for two lease lengths while the holder lives: nothing is taken back.
            for _ in range(6):
                await asyncio.sleep(1)
                await sweeper.sweep()
                row = (await rows_of(quiet_sessions, batch.content.alert_id))[member_id]
                assert row.status is DeliveryStatus.SENDING
        finally:
            renewing.cancel()
        # The holder stops renewing (it died): the row comes back.
        await eventually(lambda: lease_lapsed(quiet_sessions, batch.content.alert_id))
        await sweeper.sweep()
        row = (await rows_of(quiet_sessions, batch.content.alert_id))[member_id]
        assert row.status is DeliveryStatus.CREATED

    async def test_the_sending_timeout_is_a_backstop_for_a_chunk_that_never_ends(
        self, quiet_sessions: async_sessionmaker[AsyncSession], email_channel: EmailChannel
    ) -> None:
        batch, member_id, _claimed = await recorded_and_claimed(quiet_sessions, DEAD_WORKER)
        await asyncio.sleep(0.4)

        await worker_for(quiet_sessions, email_channel, sending_timeout_s=0.3).sweep()

        row = (await rows_of(quiet_sessions, batch.content.alert_id))[member_id]
        assert row.status is DeliveryStatus.CREATED

    async def test_a_late_outcome_of_a_claim_taken_back_changes_nothing(
        self, quiet_sessions: async_sessionmaker[AsyncSession], email_channel: EmailChannel
    ) -> None:
        batch, member_id, claimed = await recorded_and_claimed(quiet_sessions, lapsing_lease())
        first = {row.delivery_id: row for row in claimed}
        await eventually(lambda: lease_lapsed(quiet_sessions, batch.content.alert_id))
        await worker_for(quiet_sessions, email_channel).sweep()
        async with session_scope(quiet_sessions) as session:
            await DeliveryRepository(session).claim(limit=1000, lease=DEAD_WORKER)
        row = (await rows_of(quiet_sessions, batch.content.alert_id))[member_id]
        assert row.attempts == 2

        # The first claim's worker was only cut off: its outcome arrives after the second claim.
        async with session_scope(quiet_sessions) as session:
            await DeliveryRepository(session).record_results(
                [
                    DeliveryResult(
                        row.id, first[row.id].attempts, DeliveryStatus.SENT, sent_at=utcnow()
                    )
                ]
            )

        row = (await rows_of(quiet_sessions, batch.content.alert_id))[member_id]
        assert (row.status, row.attempts) == (DeliveryStatus.SENDING, 2)


class TestSweeper:
    async def test_releases_a_pending_delivery_whose_member_verified_meanwhile(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        member_id, address = uuid.uuid4(), unique_email("late")
        batch = recipient_batch([member_id])
        async with session_scope(quiet_sessions) as session:
            await DeliveryService(session).record_batch(batch)
        # The verification committed without releasing anything (it raced the batch).
        async with session_scope(quiet_sessions) as session:
            await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
        worker = worker_for(quiet_sessions, email_channel)

        report = await worker.sweep()
        rows = await drain_until_final(worker, quiet_sessions, batch.content.alert_id)

        assert report.released >= 1
        assert rows[member_id].status is DeliveryStatus.SENT
        assert len(sink.messages_to(address)) == 1


class TestFairness:
    async def test_a_small_alert_published_while_a_big_one_drains_is_not_queued_behind_it(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        # A London-wide alert (Extreme: claimed first) with more rows than one claim takes...
        big, _ = await recorded_batch(
            quiet_sessions,
            [unique_email("london") for _ in range(80)],
            content=alert_content(severity="Extreme", urgency="Immediate"),
        )
        # ...and a ward alert published after it, less urgent and due later.
        small, small_members = await recorded_batch(
            quiet_sessions,
            [unique_email("ward") for _ in range(4)],
            content=alert_content(severity="Moderate", urgency="Expected"),
        )
        worker = worker_for(quiet_sessions, email_channel)

        await worker.run_once()

        small_rows = await rows_of(quiet_sessions, small.content.alert_id)
        big_rows = await rows_of(quiet_sessions, big.content.alert_id)
        assert {row.status for row in small_rows.values()} == {DeliveryStatus.SENT}
        assert set(small_rows) == set(small_members)
        assert DeliveryStatus.CREATED in {row.status for row in big_rows.values()}
        # The big alert still has most of each claim, and all of it in the end.
        assert sum(row.status is DeliveryStatus.SENT for row in big_rows.values()) >= 40
        drained = await drain_until_final(worker, quiet_sessions, big.content.alert_id)
        assert {row.status for row in drained.values()} == {DeliveryStatus.SENT}

    async def test_one_claim_takes_the_most_urgent_rows_and_a_share_of_the_newest(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        big, _ = await recorded_batch(
            quiet_sessions,
            [unique_email("london") for _ in range(30)],
            content=alert_content(severity="Extreme", urgency="Immediate"),
        )
        small, _ = await recorded_batch(
            quiet_sessions,
            [unique_email("ward") for _ in range(3)],
            content=alert_content(severity="Minor", urgency="Future"),
        )
        async with session_scope(quiet_sessions) as session:
            claimed = await DeliveryRepository(session).claim(
                limit=10, lease=Lease.for_this_process(10), newest_share=3
            )
            # Claimed rows go back, so that no other test's worker finds them 'sending'.
            await DeliveryRepository(session).record_results(
                [
                    DeliveryResult(row.delivery_id, row.attempts, DeliveryStatus.FAILED)
                    for row in claimed
                ]
            )

        by_alert = Counter(row.alert_id for row in claimed)
        assert by_alert[small.content.alert_id] == 3
        assert by_alert[big.content.alert_id] == 7


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, ceiling in ((1, 30), (2, 60), (3, 120), (10, 1800)):
        delays = [retry_delay(attempt, base_s=30, max_s=1800) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1
