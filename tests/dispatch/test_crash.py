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
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import Fault, SmtpSink
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.models import Delivery, DeliveryStatus
from shared.db import build_engine, build_sessionmaker, session_scope
from tests.dispatch.helpers import add_email_endpoint, alert_content, recipient_batch
from tests.dispatch.processes import Dispatcher, dispatcher_environment
from tests.support.infrastructure import Infrastructure
from tests.support.waiting import eventually

RECIPIENTS = 2000
BATCH_SIZE = 500
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
BACKSTOP_S = 900
# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@pytest.fixture(scope="module")
def crash_database_url(infrastructure: Infrastructure) -> str:
    return infrastructure.fresh_database("dispatch")


@pytest.fixture(scope="module")
async def crash_sessions(
    crash_database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = build_engine(crash_database_url, application_name="dispatch-crash-test", pool_size=2)
    yield build_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def dispatcher_env(
    infrastructure: Infrastructure, kafka_namespace: str, crash_database_url: str
) -> dict[str, str]:
    return dispatcher_environment(
        infrastructure,
        kafka_namespace=kafka_namespace,
        database_url=crash_database_url,
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


async def test_kill_9_mid_batch_then_restart_sends_everything_once_but_the_in_flight(
    crash_sessions: async_sessionmaker[AsyncSession],
    dispatcher_env: dict[str, str],
    tmp_path: Path,
) -> None:
    members = [
        (uuid.uuid4(), f"crash-{i}-{uuid.uuid4().hex[:6]}@example.org") for i in range(RECIPIENTS)
    ]
    content = alert_content()
    async with session_scope(crash_sessions) as session:
        for member_id, address in members:
            await add_email_endpoint(session, member_id, address, verified_at=VERIFIED_AT)
        service = DeliveryService(session)
        for number, start in enumerate(range(0, RECIPIENTS, BATCH_SIZE)):
            chunk = [member_id for member_id, _ in members[start : start + BATCH_SIZE]]
            await service.record_batch(recipient_batch(chunk, content=content, batch_number=number))

    async with SmtpSink(smtp_port=0, max_messages=RECIPIENTS * 2) as sink:
        sink.add_fault(Fault(delay_s=SINK_DELAY_S))
        dispatcher = Dispatcher(
            {**dispatcher_env, "DISPATCH_SMTP_PORT": str(sink.smtp_port)}, tmp_path / "dispatch.log"
        )
        log_path = tmp_path / "dispatch.log"

        async def enough_received_to_kill() -> bool:
            assert dispatcher.running(), log_path.read_text()[-3000:]
            return len(sink.messages) >= KILL_AFTER_MESSAGES

        async def everyone_sent() -> bool:
            assert dispatcher.running(), log_path.read_text()[-3000:]
            return (await count_by_status(crash_sessions)).get("sent", 0) >= RECIPIENTS

        loop = asyncio.get_running_loop()
        try:
            dispatcher.start()
            # Conditions, not deadlines: a loaded machine only makes this slower. The timeouts
            # are a backstop against a dispatcher that hangs.
            await eventually(enough_received_to_kill, timeout_s=BACKSTOP_S, interval_s=0.01)
            dispatcher.kill_9()
            killed_at = loop.time()
            received_at_kill = len(sink.messages)
            # Let the sink finish reading what the dead process's sockets had already sent:
            # until its count stops changing (nothing can add to it now).
            seen = [-1]

            async def sink_settled() -> bool:
                settled = seen[0] == len(sink.messages)
                seen[0] = len(sink.messages)
                return settled

            await eventually(sink_settled, timeout_s=BACKSTOP_S, interval_s=0.5)
            at_kill = await count_by_status(crash_sessions)
            in_flight = at_kill.get("sending", 0)
            # What the provider had accepted that the dead process never recorded: the
            # messages on the wire (and the slices under way), which alone may come twice.
            unrecorded = len(sink.messages) - at_kill.get("sent", 0)
            dead = await holders(crash_sessions)

            dispatcher.start()

            async def dead_holders_rows_taken_back() -> bool:
                return await held_by(crash_sessions, dead) == 0

            await eventually(dead_holders_rows_taken_back, timeout_s=BACKSTOP_S, interval_s=0.1)
            recovered_after_s = loop.time() - killed_at
            await eventually(everyone_sent, timeout_s=BACKSTOP_S, interval_s=0.25)
        finally:
            dispatcher.stop()

        per_address = Counter(r for message in sink.messages for r in message.rcpt_tos)
        duplicates = sum(count - 1 for count in per_address.values())
        message_ids = Counter(message.headers["Message-ID"] for message in sink.messages)

    print(
        f"\nkill -9 test: {RECIPIENTS} recipients; killed after {received_at_kill} messages "
        f"received; rows at the kill {at_kill}; in-flight window (rows 'sending') {in_flight} "
        f"(bound {WORKER_TASKS * CLAIM_SIZE}); accepted but not recorded {unrecorded}; "
        f"duplicates received {duplicates}; the dead "
        f"process's rows due again {recovered_after_s:.1f} s after the kill (bound "
        f"lease_s + sweep_interval_s = {LEASE_S + SWEEP_INTERVAL_S} s, plus the restart)"
    )
    assert await count_by_status(crash_sessions) == {"sent": RECIPIENTS}
    assert set(per_address) == {address for _, address in members}
    assert in_flight <= WORKER_TASKS * CLAIM_SIZE
    # Acceptances are recorded slice by slice: only what was on the wire is sent twice, not
    # every row the dead process held.
    assert duplicates <= unrecorded
    # A resend is the same delivery: the copies share one Message-ID.
    assert sum(count - 1 for count in message_ids.values()) == duplicates
