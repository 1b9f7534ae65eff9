"""Gauges of the deliveries backlog per channel, for dashboards, alert rules and autoscaling:
how many are due, how long the oldest has waited, how many are in hand (under a live lease) and
how many were left by a process that died (a lapsed lease, until the sweeper takes them back).

Every dispatch process counts them every ``backlog_report_interval_s`` from the database, so
every process reports the same deployment-wide numbers: aggregate them with ``max``, never
``sum``. The counts read only the rows of two small partial indexes' predicates (due rows, rows
in flight), not the table.
"""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.models import ChannelKind
from services.dispatch.status.repository import BacklogRepository, ChannelBacklog
from shared.db import session_scope

DELIVERIES_DUE = Gauge(
    "tawny_dispatch_deliveries_due",
    "Deliveries due now and not yet claimed (status created, next attempt in the past), "
    "deployment-wide, as of the last count",
    ["channel"],
)
OLDEST_DUE = Gauge(
    "tawny_dispatch_oldest_due_delivery_seconds",
    "How long the longest-waiting due delivery has been due (0 when none is)",
    ["channel"],
)
DELIVERIES_IN_FLIGHT = Gauge(
    "tawny_dispatch_deliveries_in_flight",
    "Deliveries claimed by a dispatcher (status sending): lease=held while their process renews "
    "it, lease=lapsed once it stopped (a dead process's, until the sweeper takes them back)",
    ["channel", "lease"],
)


class BacklogGauges:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def report(self) -> dict[ChannelKind, ChannelBacklog]:
        async with session_scope(self._sessions) as session:
            backlog = await BacklogRepository(session).by_channel()
        for channel in ChannelKind:
            counts = backlog.get(channel, ChannelBacklog())
            DELIVERIES_DUE.labels(channel.value).set(counts.due)
            OLDEST_DUE.labels(channel.value).set(counts.oldest_due_s)
            DELIVERIES_IN_FLIGHT.labels(channel.value, "held").set(counts.leased)
            DELIVERIES_IN_FLIGHT.labels(channel.value, "lapsed").set(counts.lapsed)
        return backlog
