"""A member's inbox: the alerts dispatch delivered, or is delivering, to them."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.errors import DispatchError
from services.dispatch.inbox.repository import InboxEntry, InboxRepository
from shared.pagination import Cursor


class InboxAlertNotFoundError(DispatchError):
    """Not an alert that reached the caller: whether it exists for others is not told."""

    status_code = 404
    slug = "inbox-alert-not-found"
    title = "No such alert in your inbox"

    def __init__(self, alert_id: uuid.UUID) -> None:
        super().__init__(f"alert {alert_id} did not reach you", alert_id=str(alert_id))


class InboxService:
    def __init__(self, session: AsyncSession) -> None:
        self._inbox = InboxRepository(session)

    async def page(
        self, member_id: uuid.UUID, *, limit: int, offset: int, cursor: Cursor | None = None
    ) -> list[InboxEntry]:
        return await self._inbox.newest_first(member_id, limit=limit, offset=offset, cursor=cursor)

    async def one(self, member_id: uuid.UUID, alert_id: uuid.UUID) -> InboxEntry:
        entry = await self._inbox.one(member_id, alert_id)
        if entry is None:
            raise InboxAlertNotFoundError(alert_id)
        return entry
