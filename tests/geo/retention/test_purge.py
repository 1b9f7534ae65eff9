"""Recipient sets are deleted past their retention, by two processes at once without either
waiting for the other; younger ones stay."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.config import GeoSettings
from services.geo.models import AlertRecipientSet
from services.geo.retention.service import purge_expired_recipient_sets
from shared.db import utcnow


class TestRetention:
    async def test_old_recipient_sets_go_and_younger_ones_stay(
        self, sessions: async_sessionmaker[AsyncSession], settings: GeoSettings
    ) -> None:
        retention = timedelta(days=settings.recipient_set_retention_days)
        old = [uuid.uuid4() for _ in range(30)]
        young = uuid.uuid4()
        async with sessions() as session, session.begin():
            for alert_id, resolved_at in [
                *((a, utcnow() - retention - timedelta(days=1)) for a in old),
                (young, utcnow() - retention + timedelta(days=1)),
            ]:
                session.add(
                    AlertRecipientSet(
                        alert_id=alert_id,
                        boundary_set_id=None,
                        recipient_count=1,
                        members=uuid.uuid4().bytes,
                        resolved_at=resolved_at,
                    )
                )

        purged = await asyncio.gather(
            purge_expired_recipient_sets(sessions, retention=retention),
            purge_expired_recipient_sets(sessions, retention=retention),
        )

        assert sum(purged) >= len(old)  # other tests' sets are never this old
        async with sessions() as session:
            assert [await session.get(AlertRecipientSet, a) for a in old] == [None] * len(old)
            assert await session.get(AlertRecipientSet, young) is not None
        assert await purge_expired_recipient_sets(sessions, retention=retention) == 0
