"""Publishing each alert's delivery totals (``delivery.stats_reported``) every
``stats_interval_s`` while they change: one event per alert per interval at most, never one per
message.

Totals, from the database. Each report counts the alert's deliveries per channel (recipients:
rows; sent: handed to the provider, ``sent_at`` set; delivered: a provider receipt said so,
``delivered_at`` set; failed: ``failed``), so whichever process reports, the numbers are those
of every process's work, and a repeated or late event is harmless to its reader.

Several processes. Every process runs the reporter. An alert's row in
``delivery_stats_reports`` is claimed with ``FOR UPDATE SKIP LOCKED`` only if it was last
checked ``stats_interval_s`` ago or more, and its new ``checked_at`` commits with the event
(through the outbox, in the same transaction): so two processes never report one alert in the
same interval, and a crash before the commit reports nothing and loses nothing.

Changed since. An alert is looked at only if one of its deliveries was updated after its last
check (less ``CHANGE_MARGIN``: a row's ``updated_at`` is set before its transaction commits).
It is published only if its totals differ from the last published ones, so the margin costs a
count, never a duplicate event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.models import OutboxMessage
from services.dispatch.status.repository import StatusRepository
from shared.db import session_scope, utcnow
from shared.events import DeliveryStatsReported
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

STATS_REPORTED = Counter(
    "tawny_dispatch_stats_reported_total", "delivery.stats_reported events staged"
)

# Longer than any transaction that changes deliveries (a chunk's record, a receipt, a batch).
CHANGE_MARGIN = timedelta(seconds=60)
ALERTS_PER_PASS = 100


class StatsReporter:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        interval_s: float,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._interval = timedelta(seconds=interval_s)
        self._after_commit = after_commit

    async def report_once(self) -> int:
        """Stage an event for every changed alert due a report; return how many."""
        reported = 0
        async with session_scope(self._sessions) as session:
            repository = StatusRepository(session)
            await repository.add_new_alerts()
            now = utcnow()
            claimed = await repository.claim_changed(
                now=now, interval=self._interval, margin=CHANGE_MARGIN, limit=ALERTS_PER_PASS
            )
            for report in claimed:
                totals = await repository.totals(report.alert_id)
                as_json = {channel: counts.model_dump() for channel, counts in totals.items()}
                if as_json == report.totals:
                    await repository.mark_checked(report.alert_id, now=now, totals=None)
                    continue
                await add_event(
                    session,
                    OutboxMessage,
                    DeliveryStatsReported(alert_id=report.alert_id, as_of=now, channels=totals),
                    producer="dispatch",
                )
                await repository.mark_checked(report.alert_id, now=now, totals=as_json)
                reported += 1
        if reported:
            STATS_REPORTED.inc(reported)
            log.info("dispatch.stats.reported", alerts=reported)
            if self._after_commit is not None:
                self._after_commit()
        return reported
