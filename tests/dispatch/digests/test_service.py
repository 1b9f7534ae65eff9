"""The daily digest on the quiet database (no app runs there), through the real SMTP sink: one
email per member listing their held alerts, those deliveries sent exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import Fault, SmtpSink
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.repository import Lease
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.digests.service import DigestReport, DigestSender, DigestSettings
from services.dispatch.models import Delivery, DeliveryStatus
from services.dispatch.preferences.rules import Preferences
from services.dispatch.preferences.service import PreferencesService
from services.dispatch.ratelimits.service import RateLimit, SharedTokenBucket
from shared.db import utcnow
from shared.events import AlertContent
from tests.dispatch.helpers import add_email_endpoint, alert_content, recipient_batch, unique_email

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
# Far enough ahead that every held row of these tests is due.
DIGEST_TIME = utcnow() + timedelta(days=2)


def sender(
    sessions: async_sessionmaker[AsyncSession],
    email: EmailChannel,
    *,
    rate_limit: SharedTokenBucket | None = None,
    **overrides: int,
) -> DigestSender:
    settings = {"claim_size": 200, "max_attempts": 3, **overrides}
    return DigestSender(
        sessions=sessions,
        email=email,
        settings=DigestSettings(
            claim_size=settings["claim_size"],
            max_attempts=settings["max_attempts"],
            retry_base_delay_s=1,
            retry_max_delay_s=1,
            rate_wait_s=0,
        ),
        lease=Lease.for_this_process(60),
        rate_limit=rate_limit,
    )


async def member_with_digest(sessions: async_sessionmaker[AsyncSession], address: str) -> uuid.UUID:
    member_id = uuid.uuid4()
    async with sessions.begin() as session:
        await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
        await PreferencesService(session).replace(member_id, Preferences(digest_hour=8))
    return member_id


async def held_alerts(
    sessions: async_sessionmaker[AsyncSession], member_ids: list[uuid.UUID], count: int
) -> list[AlertContent]:
    contents = [
        alert_content(severity="Minor", headline=f"Minor {uuid.uuid4().hex[:8]}")
        for _ in range(count)
    ]
    async with sessions.begin() as session:
        for content in contents:
            report = await DeliveryService(session).record_batch(
                recipient_batch(member_ids, content=content)
            )
            assert report.held == len(member_ids)
    return contents


async def statuses(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID
) -> list[DeliveryStatus]:
    async with sessions() as session:
        rows = await session.scalars(select(Delivery.status).where(Delivery.member_id == member_id))
        return list(rows)


class TestSharedRateLimit:
    async def test_a_digest_without_a_token_is_held_again_its_attempt_given_back(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        # What earlier tests left held goes first, so that the one token goes to these.
        while (await sender(quiet_sessions, email_channel).run_once(DIGEST_TIME)).members:
            pass
        addresses = [unique_email("limited-digest") for _ in range(2)]
        members = [await member_with_digest(quiet_sessions, a) for a in addresses]
        await held_alerts(quiet_sessions, members, 1)
        # One token, refilled far too slowly to matter, and no time to wait for another.
        limit = RateLimit(f"test-{uuid.uuid4().hex[:8]}", rate_per_s=0.001, burst=1)
        limited = sender(
            quiet_sessions, email_channel, rate_limit=SharedTokenBucket(quiet_sessions, limit)
        )

        report = await limited.run_once(DIGEST_TIME)

        assert (report.members, report.sent) == (2, 1)
        assert sum(len(sink.messages_to(address)) for address in addresses) == 1
        async with quiet_sessions() as session:
            rows = list(
                await session.scalars(select(Delivery).where(Delivery.member_id.in_(members)))
            )
        assert sorted(row.status.value for row in rows) == ["held", "sent"]
        [waiting] = [row for row in rows if row.status is DeliveryStatus.HELD]
        assert waiting.attempts == 0 and "rate limit" in (waiting.last_error or "")


class TestDigest:
    async def test_one_email_lists_every_held_alert_and_they_are_sent_once(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("digest")
        member_id = await member_with_digest(quiet_sessions, address)
        contents = await held_alerts(quiet_sessions, [member_id], 3)
        digests = sender(quiet_sessions, email_channel)

        # Before the digest hour nothing goes.
        await digests.run_once(utcnow())
        assert sink.messages_to(address) == []

        await digests.run_once(DIGEST_TIME)
        await digests.run_once(DIGEST_TIME)

        [message] = sink.messages_to(address)
        assert message.subject == "Your Tawny daily digest: 3 alerts"
        for content in contents:
            assert content.headline in message.text
            assert message.html is not None and content.headline in message.html
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert await statuses(quiet_sessions, member_id) == [DeliveryStatus.SENT] * 3

    async def test_two_processes_at_once_send_each_digest_once(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        addresses = [unique_email("twice") for _ in range(6)]
        members = [await member_with_digest(quiet_sessions, a) for a in addresses]
        await held_alerts(quiet_sessions, members, 2)

        reports: list[DigestReport] = await asyncio.gather(
            *(
                sender(quiet_sessions, email_channel, claim_size=5).run_once(DIGEST_TIME)
                for _ in range(3)
            )
        )
        while (
            await sender(quiet_sessions, email_channel, claim_size=5).run_once(DIGEST_TIME)
        ).members:
            pass

        for address in addresses:
            assert len(sink.messages_to(address)) == 1, address
        for member_id in members:
            assert await statuses(quiet_sessions, member_id) == [DeliveryStatus.SENT] * 2
        # The claim of 5 rows never split a member's two: each email listed both.
        assert all(m.subject.endswith(": 2 alerts") for a in addresses for m in sink.messages_to(a))
        assert sum(report.members for report in reports) >= 2

    async def test_a_temporary_refusal_holds_them_for_a_retry(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("digest-later")
        member_id = await member_with_digest(quiet_sessions, address)
        await held_alerts(quiet_sessions, [member_id], 1)
        sink.faults.add(Fault(address=address, reply="451 4.3.0 try later", times=1))

        await sender(quiet_sessions, email_channel).run_once(DIGEST_TIME)

        assert await statuses(quiet_sessions, member_id) == [DeliveryStatus.HELD]
        await sender(quiet_sessions, email_channel).run_once(DIGEST_TIME + timedelta(minutes=1))
        assert await statuses(quiet_sessions, member_id) == [DeliveryStatus.SENT]
        assert len(sink.messages_to(address)) == 1
