"""kill -9 of a real dispatcher process mid-batch, then a restart: every recipient gets the alert,
and none twice but the messages the provider had accepted and the dead process had not yet
recorded (the messages on the wire), which the test measures and prints.

The rows the dead process held come back through their lapsed leases alone: the sending timeout
is set far beyond the test's backstop, so a recovery at all shows the lease did it; the time
from the kill to the last of them being due again is printed beside its bound
(``lease_s + sweep_interval_s``), never asserted.

The dispatcher runs as devstack runs it (uvicorn, settings from the environment), send-only
(``DISPATCH_RUN_CONSUMERS=false``) on a database of its own, so it shares no consumer group with
the in-process app of the other tests; the batches are recorded as the consumer records them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import Fault, SmtpSink
from deploy.sinks.webpush import Fault as PushFault
from deploy.sinks.webpush import WebPushSink
from services.dispatch.channels.webpush import PushSubscription, subscription_address
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import session_scope
from tests.dispatch.helpers import add_email_endpoint, alert_content, recipient_batch
from tests.dispatch.processes import Dispatcher, dispatcher_environment
from tests.support.infrastructure import Infrastructure
from tests.support.waiting import eventually

RECIPIENTS = 2000
BATCH_SIZE = 500
# Per channel: each test's alert goes out on one channel, whose workers alone hold its rows.
WORKER_TASKS = 2
CLAIM_SIZE = 50
# Only a backstop here: longer than the test's own, so the leases alone can recover the rows.
SENDING_TIMEOUT_S = 3600
LEASE_S = 10
LEASE_RENEW_INTERVAL_S = 3
SWEEP_INTERVAL_S = 5
# Each message waits this long at the sink, so the kill lands mid-batch.
SINK_DELAY_S = 0.02
KILL_AFTER_MESSAGES = 600
# Web push: 32 requests in flight per process (DISPATCH_WEBPUSH_CONCURRENCY), each answered
# after PUSH_SINK_DELAY_S.
PUSH_RECIPIENTS = 1000
PUSH_SINK_DELAY_S = 0.05
PUSH_KILL_AFTER = 300
BACKSTOP_S = 900
# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
def dispatcher_env(
    infrastructure: Infrastructure, kafka_namespace: str, own_database_url: str
) -> dict[str, str]:
    return dispatcher_environment(
        infrastructure,
        kafka_namespace=kafka_namespace,
        database_url=own_database_url,
        SMTP_TIMEOUT_S="2",
        WEBPUSH_TIMEOUT_S="2",
        SEND_BUDGET_S="2",
        SENDING_TIMEOUT_S=str(SENDING_TIMEOUT_S),
        SWEEP_INTERVAL_S=str(SWEEP_INTERVAL_S),
        LEASE_S=str(LEASE_S),
        LEASE_RENEW_INTERVAL_S=str(LEASE_RENEW_INTERVAL_S),
        WORKER_TASKS=str(WORKER_TASKS),
        CLAIM_SIZE=str(CLAIM_SIZE),
        SEND_CONCURRENCY="8",
    )


async def count_by_status(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return {status.value: count for status, count in rows.all()}


async def held_by(sessions: async_sessionmaker[AsyncSession], holders: set[str]) -> int:
    async with sessions() as session:
        held = await session.scalar(
            select(func.count()).where(
                Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by.in_(holders)
            )
        )
        return int(held or 0)


async def holders(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Delivery.claimed_by).where(Delivery.claimed_by.is_not(None)).distinct()
        )
        return {holder for holder in rows if holder is not None}


@dataclass(frozen=True)
class CrashReport:
    received_at_kill: int
    at_kill: dict[str, int]
    # Rows the dead process held ('sending' when it died).
    in_flight: int
    # What the provider had accepted that the dead process never recorded: the messages on the
    # wire (and the slices under way), which alone may come twice.
    unrecorded: int
    recovered_after_s: float
    restarted_after_s: float
    # Messages received per recipient (an address, a subscription), duplicates included.
    per_recipient: Counter[str]

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.per_recipient.values())

    def print(self, channel: str, recipients: int) -> None:
        print(
            f"\nkill -9 test ({channel}): {recipients} recipients; killed after "
            f"{self.received_at_kill} received; rows at the kill {self.at_kill}; rows the "
            f"process held {self.in_flight} (bound {WORKER_TASKS * CLAIM_SIZE}); accepted but not "
            f"recorded {self.unrecorded}; received twice {self.duplicates}; the dead process's "
            f"rows due again {self.recovered_after_s:.1f} s after the kill, the restarted "
            f"process ready after {self.restarted_after_s:.1f} s (bound lease_s + "
            f"sweep_interval_s = {LEASE_S + SWEEP_INTERVAL_S} s, or the restart if later)"
        )


async def kill_mid_send_and_restart(
    sessions: async_sessionmaker[AsyncSession],
    dispatcher: Dispatcher,
    *,
    recipients: int,
    kill_after: int,
    received: Callable[[], list[str]],
) -> CrashReport:
    """Start the dispatcher, kill -9 it once ``kill_after`` messages arrived, restart it and
    wait until every delivery is sent; ``received`` lists the recipient of every message the
    provider's sink received."""

    async def enough_received_to_kill() -> bool:
        assert dispatcher.running(), dispatcher.log_tail()
        return len(received()) >= kill_after

    async def everyone_sent() -> bool:
        assert dispatcher.running(), dispatcher.log_tail()
        return (await count_by_status(sessions)).get("sent", 0) >= recipients

    # Until the sink's count stops changing: it reads what the dead process's sockets had
    # already sent, and nothing can add to it now.
    seen = [-1]

    async def sink_settled() -> bool:
        settled = seen[0] == len(received())
        seen[0] = len(received())
        return settled

    loop = asyncio.get_running_loop()
    try:
        dispatcher.start()
        # Conditions, not deadlines: a loaded machine only makes this slower. The timeouts are
        # a backstop against a dispatcher that hangs.
        await eventually(enough_received_to_kill, timeout_s=BACKSTOP_S, interval_s=0.01)
        dispatcher.kill_9()
        killed_at = loop.time()
        received_at_kill = len(received())
        await eventually(sink_settled, timeout_s=BACKSTOP_S, interval_s=0.5)
        at_kill = await count_by_status(sessions)
        dead = await holders(sessions)

        dispatcher.start()
        # The only sweeper is the restarted process's: its start-up is part of the recovery
        # here (with other replicas alive, theirs would not be), so it is measured apart.
        await eventually(dispatcher.ready, timeout_s=BACKSTOP_S, interval_s=0.1)
        restarted_after_s = loop.time() - killed_at

        async def dead_holders_rows_taken_back() -> bool:
            return await held_by(sessions, dead) == 0

        await eventually(dead_holders_rows_taken_back, timeout_s=BACKSTOP_S, interval_s=0.1)
        recovered_after_s = loop.time() - killed_at
        await eventually(everyone_sent, timeout_s=BACKSTOP_S, interval_s=0.25)
    finally:
        dispatcher.stop()
    return CrashReport(
        received_at_kill=received_at_kill,
        at_kill=at_kill,
        in_flight=at_kill.get("sending", 0),
        unrecorded=seen[0] - at_kill.get("sent", 0),
        recovered_after_s=recovered_after_s,
        restarted_after_s=restarted_after_s,
        per_recipient=Counter(received()),
    )


async def record_deliveries(
    sessions: async_sessionmaker[AsyncSession],
    members: list[uuid.UUID],
    channel: ChannelKind,
) -> None:
    content = alert_content()
    async with session_scope(sessions) as session:
        service = DeliveryService(session, channels=(channel,))
        for number, start in enumerate(range(0, len(members), BATCH_SIZE)):
            chunk = members[start : start + BATCH_SIZE]
            await service.record_batch(recipient_batch(chunk, content=content, batch_number=number))


def assert_recovered_with_only_the_unrecorded_twice(
    report: CrashReport, final: dict[str, int], recipients: int
) -> None:
    assert final == {"sent": recipients}
    assert len(report.per_recipient) == recipients
    assert report.in_flight <= WORKER_TASKS * CLAIM_SIZE
    # Acceptances are recorded slice by slice: only what was on the wire is sent twice, not
    # every row the dead process held.
    assert report.duplicates <= report.unrecorded


async def test_email_kill_9_mid_batch_then_restart_sends_everyone_once_but_the_unrecorded(
    own_sessions: async_sessionmaker[AsyncSession],
    dispatcher_env: dict[str, str],
    tmp_path: Path,
) -> None:
    members = [uuid.uuid4() for _ in range(RECIPIENTS)]
    async with session_scope(own_sessions) as session:
        for number, member_id in enumerate(members):
            address = f"crash-{number}-{uuid.uuid4().hex[:6]}@example.org"
            await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
    await record_deliveries(own_sessions, members, ChannelKind.EMAIL)

    async with SmtpSink(smtp_port=0, max_messages=RECIPIENTS * 2) as sink:
        sink.add_fault(Fault(delay_s=SINK_DELAY_S))
        dispatcher = Dispatcher(
            {**dispatcher_env, "DISPATCH_SMTP_PORT": str(sink.smtp_port)}, tmp_path / "dispatch.log"
        )
        report = await kill_mid_send_and_restart(
            own_sessions,
            dispatcher,
            recipients=RECIPIENTS,
            kill_after=KILL_AFTER_MESSAGES,
            received=lambda: [r for message in sink.messages for r in message.rcpt_tos],
        )
        message_ids = Counter(message.headers["Message-ID"] for message in sink.messages)

    report.print("email", RECIPIENTS)
    assert_recovered_with_only_the_unrecorded_twice(
        report, await count_by_status(own_sessions), RECIPIENTS
    )
    # A resend is the same delivery: the copies share one Message-ID.
    assert sum(count - 1 for count in message_ids.values()) == report.duplicates


async def test_web_push_kill_9_mid_batch_then_restart_sends_everyone_once_but_the_unrecorded(
    own_sessions: async_sessionmaker[AsyncSession],
    dispatcher_env: dict[str, str],
    tmp_path: Path,
) -> None:
    async with WebPushSink(port=0, max_messages=PUSH_RECIPIENTS * 2) as sink:
        members = [uuid.uuid4() for _ in range(PUSH_RECIPIENTS)]
        async with session_scope(own_sessions) as session:
            for member_id in members:
                subscription = sink.subscribe()
                await MemberEndpointRepository(session).record_verified(
                    member_id=member_id,
                    channel=ChannelKind.WEBPUSH,
                    address=subscription_address(
                        PushSubscription(
                            endpoint=subscription["endpoint"],
                            p256dh=subscription["keys"]["p256dh"],
                            auth=subscription["keys"]["auth"],
                        )
                    ),
                    verified_at=VERIFIED_AT,
                )
        await record_deliveries(own_sessions, members, ChannelKind.WEBPUSH)
        sink.add_fault(PushFault(delay_s=PUSH_SINK_DELAY_S))
        dispatcher = Dispatcher(
            {**dispatcher_env, "DISPATCH_WEBPUSH_INSECURE_ORIGINS": sink.origin},
            tmp_path / "dispatch.log",
        )
        report = await kill_mid_send_and_restart(
            own_sessions,
            dispatcher,
            recipients=PUSH_RECIPIENTS,
            kill_after=PUSH_KILL_AFTER,
            received=lambda: [push.subscription_id for push in sink.service.received_by()],
        )

    report.print("web push", PUSH_RECIPIENTS)
    assert_recovered_with_only_the_unrecorded_twice(
        report, await count_by_status(own_sessions), PUSH_RECIPIENTS
    )
