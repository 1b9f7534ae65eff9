"""Every SQL statement about emails asked for per recipient address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import RecipientSendCount


class RecipientSendRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count_request(self, key: str, *, at: datetime, window_started_after: datetime) -> int:
        """One more request under ``key``, in one statement (two concurrent requests both
        count); a window that started before ``window_started_after`` starts over. Returns the
        requests of the current window, this one included."""
        statement = insert(RecipientSendCount).values(key=key, requests=1, window_started_at=at)
        window_over = RecipientSendCount.window_started_at <= window_started_after
        requests: int | None = await self._session.scalar(
            statement.on_conflict_do_update(
                index_elements=[RecipientSendCount.key],
                set_={
                    "requests": case((window_over, 1), else_=RecipientSendCount.requests + 1),
                    "window_started_at": case(
                        (window_over, at), else_=RecipientSendCount.window_started_at
                    ),
                },
            ).returning(RecipientSendCount.requests)
        )
        assert requests is not None, "an upsert returns its row"
        return requests
