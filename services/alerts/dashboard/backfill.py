"""Count the alerts published before the dashboard existed (or loaded around the service).

    python -m services.alerts.dashboard.backfill [--batch-size 200]

Every published alert without a dashboard fact is recounted, a batch per transaction, exactly as
the service does when an event arrives, so the command can run beside the live service, be
interrupted and run again: an alert counted meanwhile is simply not found again.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from services.alerts.config import AlertsSettings
from services.alerts.dashboard.repository import DashboardRepository
from services.alerts.dashboard.service import DashboardService
from shared.db import build_engine, build_sessionmaker, session_scope
from shared.logs import get_logger

log = get_logger(__name__)


async def backfill(settings: AlertsSettings, *, batch_size: int, progress: bool = True) -> int:
    """Recount every uncounted published alert; how many there were."""
    engine = build_engine(settings.database_url, application_name="alerts-dashboard-backfill")
    counted = 0
    after: uuid.UUID | None = None
    try:
        sessions = build_sessionmaker(engine)
        while True:
            async with session_scope(sessions) as session:
                batch = await DashboardRepository(session).uncounted_alerts(after, limit=batch_size)
                dashboard = DashboardService(session, settings=settings)
                for alert_id in batch:
                    await dashboard.recount(alert_id)
            if not batch:
                break
            after = batch[-1]
            counted += len(batch)
            if progress:
                print(f"dashboard backfill: {counted} alerts counted", flush=True)
    finally:
        await engine.dispose()
    log.info("alerts.dashboard.backfilled", alerts=counted)
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--batch-size", type=int, default=200, choices=range(1, 5_001), metavar="1..5000"
    )
    args = parser.parse_args()
    counted = asyncio.run(backfill(AlertsSettings(), batch_size=args.batch_size))
    print(f"Done: {counted} published alerts counted into the dashboard.")


if __name__ == "__main__":
    main()
