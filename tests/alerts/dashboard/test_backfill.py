"""The backfill counts published alerts the service never counted, once."""

from __future__ import annotations

from sqlalchemy import any_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.config import AlertsSettings
from services.alerts.dashboard.backfill import backfill
from services.alerts.models import Alert, DashboardAlertFact
from shared.db import utcnow
from tests.alerts.helpers import unique_borough_code
from tests.alerts.test_migrations import VALID_ROW, insert_alert


async def test_an_alert_loaded_around_the_service_is_counted_once(
    settings: AlertsSettings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    borough = unique_borough_code()
    async with sessions() as session, session.begin():
        await insert_alert(
            session,
            **{
                **VALID_ROW,
                "state": "published",
                "published_at": utcnow(),
                "target_ward_codes": [],
                "target_borough_codes": [borough],
            },
        )

    assert await backfill(settings, batch_size=2, progress=False) >= 1
    assert await backfill(settings, batch_size=2, progress=False) == 0

    async with sessions() as session:
        fact = await session.scalar(
            select(DashboardAlertFact)
            .join(Alert, Alert.id == DashboardAlertFact.alert_id)
            .where(any_(Alert.target_borough_codes) == borough)
        )
    assert fact is not None
    # An old row has no author_kind: its author_is_officer decides.
    assert (fact.crime_type, fact.counts["alerts"], fact.counts["by_officer"]) == ("burglary", 1, 1)
