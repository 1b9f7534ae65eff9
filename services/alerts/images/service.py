"""An alert's pictures (up to three): added and removed while it is a draft, by its author or
an officer who answers for it, so that approvers see what goes out; served to anyone once the
alert is public. Flushes, never commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.policy import Policy
from services.alerts.authoring.repository import AlertRepository
from services.alerts.config import AlertsSettings
from services.alerts.errors import (
    AlertForbiddenError,
    AlertNotFoundError,
    AlertStateConflictError,
    ImageNotFoundError,
)
from services.alerts.images.processing import clean_image
from services.alerts.images.repository import ImageRepository
from services.alerts.models import MAX_IMAGES_PER_ALERT, Alert, AlertImage, AlertState, MsgType
from shared.auth import Principal
from shared.logs import get_logger

log = get_logger(__name__)


class ImageService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._alerts = AlertRepository(session)
        self._images = ImageRepository(session)
        self._settings = settings
        self._policy = Policy.for_settings(settings)

    async def add(
        self, alert_id: uuid.UUID, *, staff: Principal, data: bytes, description: str
    ) -> AlertImage:
        alert = await self._editable(alert_id, staff)
        taken = {image.position for image in await self._images.of_alert(alert.id)}
        free = [n for n in range(1, MAX_IMAGES_PER_ALERT + 1) if n not in taken]
        if not free:
            raise AlertStateConflictError(
                f"An alert has at most {MAX_IMAGES_PER_ALERT} pictures; remove one first."
            )
        # Decoding and encoding take CPU time: off the event loop, so other requests go on.
        clean = await asyncio.to_thread(clean_image, data, self._settings)
        image = await self._images.add(
            AlertImage(
                alert_id=alert.id,
                position=free[0],
                description=description,
                mime_type=clean.mime_type,
                data=clean.data,
                size_bytes=len(clean.data),
                width=clean.width,
                height=clean.height,
                sha1=clean.sha1,
            )
        )
        log.info(
            "alerts.image.added",
            alert_id=str(alert.id),
            position=image.position,
            size_bytes=image.size_bytes,
            received_bytes=len(data),
        )
        return image

    async def remove(self, alert_id: uuid.UUID, position: int, *, staff: Principal) -> None:
        alert = await self._editable(alert_id, staff)
        if not await self._images.remove(alert.id, position):
            raise ImageNotFoundError("The alert has no picture with this number.")

    async def of_alert(self, alert: Alert) -> Sequence[AlertImage]:
        """The pictures of an alert, or of the original an Update or Cancel refers to."""
        return await self._images.of_alert(alert.references_id or alert.id)

    async def get(self, alert: Alert, position: int) -> AlertImage:
        image = await self._images.get(alert.references_id or alert.id, position)
        if image is None:
            raise ImageNotFoundError("The alert has no picture with this number.")
        return image

    async def _editable(self, alert_id: uuid.UUID, staff: Principal) -> Alert:
        alert = await self._alerts.get_for_update(alert_id)
        if alert is None:
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        if alert.msg_type is not MsgType.ALERT or alert.state is not AlertState.DRAFT:
            raise AlertStateConflictError(
                "Pictures are added to and removed from drafts only, before anyone approves "
                "or receives them.",
                state=alert.state.value,
            )
        if alert.author_id != staff.member_id and not self._policy.may_act_for(staff, alert):
            raise AlertForbiddenError("Only the author or an officer of its area may do this.")
        return alert
