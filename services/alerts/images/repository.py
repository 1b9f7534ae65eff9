"""SQL about alerts' pictures. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from services.alerts.models import AlertImage


class ImageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, image: AlertImage) -> AlertImage:
        self._session.add(image)
        await self._session.flush()
        return image

    async def get(self, alert_id: uuid.UUID, position: int) -> AlertImage | None:
        return await self._session.get(AlertImage, (alert_id, position))

    async def of_alert(self, alert_id: uuid.UUID) -> Sequence[AlertImage]:
        """An alert's pictures in order, without their bytes."""
        return (
            await self._session.scalars(
                select(AlertImage)
                .where(AlertImage.alert_id == alert_id)
                .order_by(AlertImage.position)
                .options(defer(AlertImage.data, raiseload=True))
            )
        ).all()

    async def of_alerts(self, alert_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[AlertImage]]:
        """The pictures of several alerts in order, without their bytes."""
        found: dict[uuid.UUID, list[AlertImage]] = {}
        if not alert_ids:
            return found
        rows = await self._session.scalars(
            select(AlertImage)
            .where(AlertImage.alert_id.in_(alert_ids))
            .order_by(AlertImage.alert_id, AlertImage.position)
            .options(defer(AlertImage.data, raiseload=True))
        )
        for image in rows:
            found.setdefault(image.alert_id, []).append(image)
        return found

    async def remove(self, alert_id: uuid.UUID, position: int) -> bool:
        result = await self._session.execute(
            delete(AlertImage)
            .where(AlertImage.alert_id == alert_id, AlertImage.position == position)
            .returning(AlertImage.position)
        )
        return result.first() is not None
