"""Every SQL statement about alerts. Flushes, never commits: the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import Alert, AlertState


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, alert: Alert) -> Alert:
        self._session.add(alert)
        await self._session.flush()
        return alert

    async def get(self, alert_id: uuid.UUID) -> Alert | None:
        return await self._session.get(Alert, alert_id)

    async def get_for_update(self, alert_id: uuid.UUID) -> Alert | None:
        """The alert, locked until the transaction ends, so that two requests changing its
        state take turns; the second sees what the first committed (``populate_existing``)."""
        alert: Alert | None = await self._session.scalar(
            select(Alert)
            .where(Alert.id == alert_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return alert

    async def list_newest_first(
        self, *, state: AlertState | None, limit: int, offset: int
    ) -> Sequence[Alert]:
        query = select(Alert)
        if state is not None:
            query = query.where(Alert.state == state)
        query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
        return (await self._session.scalars(query)).all()
