"""Two dispatcher processes against one provider rate limit: together they hand the SMTP sink
no more than the configured rate (the token bucket is shared through PostgreSQL), where two
per-process buckets would have sent twice as fast. The arrival times at the sink are the
measure; the test asserts the limit (an upper bound on the rate), never a speed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import SmtpSink
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.models import Delivery, DeliveryStatus
from shared.db import session_scope
from tests.dispatch.helpers import add_email_endpoint, recipient_batch
from tests.dispatch.processes import Dispatcher, dispatcher_environment
from tests.support.infrastructure import Infrastructure
from tests.support.waiting import eventually

MESSAGES = 250
RATE_PER_S = 25
BURST = 5
# Tokens are taken before a send and the message arrives a little later (the first ones after
# an SMTP connection is opened), and a process that stalls on a loaded machine sends what it
# held in a clump: arrivals may run up to a second behind their tokens, which shortens the
# measured span and moves a few into the next window. A second's worth of tokens is small
# beside what a second unshared bucket would add (RATE_PER_S more every second of the run).
ARRIVAL_LAG_S = 1.0
SLACK = round(RATE_PER_S * ARRIVAL_LAG_S)
WINDOW_S = 4.0
BACKSTOP_S = 600
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


async def sent_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(Delivery.status == DeliveryStatus.SENT)
        )
        return int(count or 0)


async def senders(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Delivery.claimed_by).where(Delivery.status == DeliveryStatus.SENT).distinct()
        )
        return {holder for holder in rows if holder is not None}


async def test_two_dispatchers_together_keep_to_one_providers_rate(
    infrastructure: Infrastructure,
    kafka_namespace: str,
    own_database_url: str,
    own_sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    async with SmtpSink(smtp_port=0, max_messages=MESSAGES * 2) as sink:
        env = dispatcher_environment(
            infrastructure,
            kafka_namespace=kafka_namespace,
            database_url=own_database_url,
            SMTP_PORT=str(sink.smtp_port),
            EMAIL_RATE_PER_S=str(RATE_PER_S),
            EMAIL_RATE_BURST=str(BURST),
            CLAIM_SIZE="10",
            WORKER_TASKS="2",
            SEND_CONCURRENCY="4",
        )
        dispatchers = [Dispatcher(env, tmp_path / f"dispatch-{n}.log") for n in range(2)]
        try:
            for dispatcher in dispatchers:
                dispatcher.start()
            for dispatcher in dispatchers:
                await eventually(dispatcher.ready, timeout_s=BACKSTOP_S, interval_s=0.2)
            # Recorded once both run, so that both take part from the first chunk.
            members = [uuid.uuid4() for _ in range(MESSAGES)]
            async with session_scope(own_sessions) as session:
                for member_id in members:
                    await add_email_endpoint(
                        session,
                        member_id,
                        f"rate-{uuid.uuid4().hex[:10]}@example.org",
                        verified_at=VERIFIED_AT,
                    )
                await DeliveryService(session).record_batch(recipient_batch(members))

            async def all_sent() -> bool:
                assert all(d.running() for d in dispatchers)
                return await sent_count(own_sessions) >= MESSAGES

            await eventually(all_sent, timeout_s=BACKSTOP_S, interval_s=0.25)
        finally:
            for dispatcher in dispatchers:
                dispatcher.stop()
        arrivals = sorted(message.received_at for message in sink.messages)

    span_s = (arrivals[-1] - arrivals[0]).total_seconds()
    busiest = max(
        sum(1 for t in arrivals if start <= t < start + timedelta(seconds=WINDOW_S))
        for start in arrivals
    )
    print(
        f"\nshared rate limit: {len(arrivals)} messages from two dispatchers in {span_s:.1f} s "
        f"({len(arrivals) / span_s:.1f}/s against a limit of {RATE_PER_S}/s, burst {BURST}); "
        f"busiest {WINDOW_S:g} s: {busiest}"
    )
    assert len(arrivals) == MESSAGES
    # Both processes sent: the limit held across replicas, not because one did all the work.
    assert len(await senders(own_sessions)) == 2
    assert len(arrivals) <= BURST + RATE_PER_S * span_s + SLACK
    assert busiest <= BURST + RATE_PER_S * WINDOW_S + SLACK
