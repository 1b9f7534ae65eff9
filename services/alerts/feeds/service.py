"""What the public feeds hold: the live public alerts touching a ward or a borough, each with
its latest message (its last Update, if any) and its pictures. Reads only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.repository import AlertRepository
from services.alerts.config import AlertsSettings
from services.alerts.geography import geography_for
from services.alerts.images.repository import ImageRepository
from services.alerts.models import Alert, AlertImage
from shared.db import utcnow

FEED_SIZE = 100


@dataclass(frozen=True)
class FeedItem:
    original: Alert
    message: Alert
    images: Sequence[AlertImage] = ()


class FeedService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._alerts = AlertRepository(session)
        self._images = ImageRepository(session)
        self._geography = geography_for(settings)

    async def for_ward(self, ward_code: str) -> list[FeedItem]:
        """Alerts by the ward's code, by its whole borough, or by a circle or polygon over it."""
        return await self._items(
            ward_code=ward_code,
            borough_code=None,
            ward_borough_code=self._geography.borough_of(ward_code),
        )

    async def for_borough(self, borough_code: str) -> list[FeedItem]:
        """Alerts by the borough's code, by a ward in it, or by a circle or polygon over it."""
        return await self._items(ward_code=None, borough_code=borough_code, ward_borough_code=None)

    async def _items(
        self,
        *,
        ward_code: str | None,
        borough_code: str | None,
        ward_borough_code: str | None,
    ) -> list[FeedItem]:
        """The live alerts touching the area, each with its latest message and its pictures."""
        originals = await self._alerts.live_public(
            now=utcnow(),
            ward_code=ward_code,
            borough_code=borough_code,
            limit=FEED_SIZE,
            ward_borough_code=ward_borough_code,
        )
        ids = [alert.id for alert in originals]
        latest = await self._alerts.latest_follow_ups(ids)
        images = await self._images.of_alerts(ids)
        return [
            FeedItem(alert, latest.get(alert.id, alert), images.get(alert.id, ()))
            for alert in originals
        ]
