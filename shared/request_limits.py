"""Requests counted per recipient in a fixed window, for limits that keep the platform from
flooding anyone (emails per address, SMS codes per phone number).

A service maps :class:`RequestCountMixin` onto its own table (keys are keyed hashes, never the
address) and counts with :func:`count_request`: one upsert, so two concurrent requests both
count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, case
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

KEY_MAX_LENGTH = 100


class RequestCountMixin:
    """Columns of a requests-per-recipient table."""

    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


async def count_request(
    session: AsyncSession,
    model: type[RequestCountMixin],
    key: str,
    *,
    at: datetime,
    window_started_after: datetime,
) -> int:
    """One more request under ``key``; a window that started before ``window_started_after``
    starts over. Returns the requests of the current window, this one included."""
    table: Any = model
    window_over = table.window_started_at <= window_started_after
    statement = insert(table).values(key=key, requests=1, window_started_at=at)
    requests: int | None = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[table.key],
            set_={
                "requests": case((window_over, 1), else_=table.requests + 1),
                "window_started_at": case((window_over, at), else_=table.window_started_at),
            },
        ).returning(table.requests)
    )
    assert requests is not None, "an upsert returns its row"
    return requests
