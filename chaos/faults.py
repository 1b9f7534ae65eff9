"""The faults: what each injects, when, and when it is over.

Provider faults are set on the sinks' fault APIs (``deploy/sinks``) before the alert is
published and cleared ``OUTAGE_S`` later, so they meet the first messages of the send. Process
faults wait for their moment: a dispatcher is killed once a share of the recipients have their
message; the broker is stopped before the alert is published (its event then waits in the
alerts service's outbox), or restarted while it holds the alert's event unconsumed; PostgreSQL
is restarted mid-send; and the alerts service is killed the moment its publish answered
(committed, with the event still in its outbox for the relay's next poll).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence

from chaos.suite import Audience, Fault, FaultSpec, Trial
from shared.kafka import ensure_topics

# How long a provider misbehaves, seconds.
OUTAGE_S = 10.0
# How long the broker stays down.
BROKER_DOWN_S = 5.0
# Addresses or tokens a per-address fault applies to.
PER_ADDRESS = 5


async def no_fault(trial: Trial) -> float:
    await trial.publish()
    return time.time()


def kill_dispatch_at(share: float) -> Fault:
    async def run(trial: Trial) -> float:
        await trial.publish()
        await trial.delivered_share(share)
        return trial.kill("dispatch")

    return run


async def kill_alerts_after_commit(trial: Trial) -> float:
    await trial.publish()
    return trial.kill("alerts")


async def _restart_broker(trial: Trial, *, before: Callable[[], Awaitable[None]]) -> float:
    stack = trial.stack
    broker = stack.embedded_broker
    if broker is None:
        raise RuntimeError("the stack uses an external broker: not ours to stop")
    await asyncio.to_thread(broker.stop)
    try:
        await before()
        await asyncio.sleep(BROKER_DOWN_S)
    finally:
        await asyncio.to_thread(broker.start, stack.log_dir / "tansu.log")
    # A broker that kept nothing (memory storage) comes back without the platform's topics;
    # creating them is what the dev stack does at start.
    created = await ensure_topics(
        stack.kafka_bootstrap_servers,
        namespace=stack.options.kafka_namespace,
        partitions=stack.options.kafka_partitions,
    )
    if created:
        trial.note = f"the broker came back empty: {len(created)} topics created again"
    return time.time()


async def broker_down_at_publish(trial: Trial) -> float:
    """The alert is drafted, the broker stops, the alert is published (committed with its event
    in the outbox, which the relay cannot send), and the broker comes back."""
    alert_id = await trial.suite.create(trial.tag)

    async def publish() -> None:
        trial.published_at = time.time()
        await trial.suite.publish_draft(alert_id)

    return await _restart_broker(trial, before=publish)


async def broker_restart_holding_an_event(trial: Trial) -> float:
    """Geo, the alert event's consumer, is paused (SIGSTOP) when the alert is published, so the
    event is in the broker and nowhere else when the broker restarts; geo then carries on.
    Whatever the broker does not keep across a restart is lost here."""
    geo = trial.process("geo")
    relayed = await trial.events_relayed("alerts")
    os.kill(geo, signal.SIGSTOP)
    try:
        await trial.publish()
        await trial.relayed_since("alerts", relayed)
        return await _restart_broker(trial, before=_nothing)
    finally:
        os.kill(geo, signal.SIGCONT)


async def _nothing() -> None:
    return None


async def postgres_restart(trial: Trial) -> float:
    server = trial.stack.embedded_postgres
    if server is None:
        raise RuntimeError("the stack uses an external PostgreSQL: not ours to restart")
    await trial.publish()
    await trial.delivered_share(0.3)
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    return time.time()


def outage(sink: str, outage_s: float = OUTAGE_S, **fault: object) -> Fault:
    """``sink`` ("smtp" or "fcm") misbehaves as ``fault`` says for ``outage_s`` seconds."""

    async def run(trial: Trial) -> float:
        await trial.sink_fault(sink, **fault)
        await trial.publish()
        await asyncio.sleep(outage_s)
        return await trial.clear_faults()

    return run


def _first_emails(audience: Audience) -> frozenset[str]:
    return frozenset(sorted(audience.emails)[:PER_ADDRESS])


async def smtp_refuses_some_addresses(trial: Trial) -> float:
    """A permanent 550 for a few addresses while the rest are accepted: those few are bad
    addresses (excused, not lost); everyone else must get the alert."""
    for address in sorted(trial.excused):
        await trial.sink_fault("smtp", address=address, reply="550 5.1.1 No such mailbox")
    await trial.publish()
    return time.time()


async def fcm_fails_some_tokens(trial: Trial) -> float:
    """A 500 for a few tokens, twice each, while the rest are accepted: a passing failure of
    the provider for those, which retries must get past."""
    for token in sorted(trial.suite.audience.fcm_tokens)[:PER_ADDRESS]:
        await trial.sink_fault("fcm", target=token, status=500, times=2)
    await trial.publish()
    return time.time()


def every_fault() -> list[FaultSpec]:
    return [
        FaultSpec("none (baseline)", no_fault),
        FaultSpec("dispatch kill -9 at 10%", kill_dispatch_at(0.1), kills_a_dispatcher=True),
        FaultSpec("dispatch kill -9 at 50%", kill_dispatch_at(0.5), kills_a_dispatcher=True),
        FaultSpec("dispatch kill -9 at 90%", kill_dispatch_at(0.9), kills_a_dispatcher=True),
        FaultSpec("alerts kill -9 after commit, before relay", kill_alerts_after_commit),
        FaultSpec("broker down at publish, back after 5 s", broker_down_at_publish),
        FaultSpec("broker restart holding an unconsumed event", broker_restart_holding_an_event),
        FaultSpec("PostgreSQL restart mid-send", postgres_restart),
        FaultSpec("SMTP 451 for all, 10 s", outage("smtp", reply="451 4.3.0 Try again later")),
        FaultSpec("SMTP 554 for all, 10 s", outage("smtp", reply="554 5.3.0 Relay unavailable")),
        FaultSpec(
            "SMTP 550 for 5 addresses",
            smtp_refuses_some_addresses,
            excused=_first_emails,
        ),
        FaultSpec("SMTP slow (2 s a message), 10 s", outage("smtp", delay_s=2.0)),
        FaultSpec("SMTP not answering, 10 s", outage("smtp", drop_connection=True)),
        FaultSpec("FCM 429 for all, 10 s", outage("fcm", status=429, retry_after_s=2)),
        FaultSpec("FCM 503 for all, 10 s", outage("fcm", status=503)),
        FaultSpec("FCM 500 for 5 tokens (twice)", fcm_fails_some_tokens),
        FaultSpec("FCM slow (3 s an answer), 10 s", outage("fcm", delay_s=3.0)),
        FaultSpec("FCM not answering, 10 s", outage("fcm", drop_connection=True)),
    ]


# What runs inside `make test` (tests/e2e/test_chaos.py): the faults that need no restart of the
# test session's shared PostgreSQL and broker.
REDUCED = (
    "dispatch kill -9 at 50%",
    "SMTP 554 for all, 10 s",
    "SMTP 550 for 5 addresses",
    "FCM 429 for all, 10 s",
)


def chosen(patterns: Sequence[str] | None) -> list[FaultSpec]:
    """The faults whose names contain any of ``patterns`` (any letter case); all without."""
    specs = every_fault()
    if not patterns:
        return specs
    wanted = [p.lower() for p in patterns]
    picked = [spec for spec in specs if any(p in spec.name.lower() for p in wanted)]
    if not picked:
        raise ValueError(f"no fault matches {list(patterns)}; known: {[s.name for s in specs]}")
    return picked
