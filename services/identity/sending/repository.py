"""Every SQL statement about emails asked for per recipient address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import RecipientSendCount
from shared.request_limits import count_request


class RecipientSendRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count_request(self, key: str, *, at: datetime, window_started_after: datetime) -> int:
        """One more request under ``key`` (``shared.request_limits``, the counter dispatch's
        SMS codes per number use too); a window that started before ``window_started_after``
        starts over. Returns the requests of the current window, this one included."""
        return await count_request(
            self._session,
            RecipientSendCount,
            key,
            at=at,
            window_started_after=window_started_after,
        )
