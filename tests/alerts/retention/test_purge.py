"""Replies and their photos are deleted past their retention, by two processes at once
without either waiting for the other or deleting anything twice; younger ones stay."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.config import AlertsSettings
from services.alerts.models import Reply, ReplyPhoto
from services.alerts.retention.service import purge_expired_feedback
from shared.db import utcnow
from tests.alerts.feedback.test_feedback import published
from tests.alerts.members.test_lifecycle import reply_with_photo, resident


async def age(
    sessions: async_sessionmaker[AsyncSession], reply_id: str, *, days: int, photo_days: int
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Reply)
            .where(Reply.id == uuid.UUID(reply_id))
            .values(created_at=utcnow() - timedelta(days=days))
        )
        await session.execute(
            update(ReplyPhoto)
            .where(ReplyPhoto.reply_id == uuid.UUID(reply_id))
            .values(created_at=utcnow() - timedelta(days=photo_days))
        )


class TestRetention:
    async def test_old_photos_then_old_replies_go_and_younger_ones_stay(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: AlertsSettings,
    ) -> None:
        alert = await published(client)
        photo_days, reply_days = settings.reply_photo_retention_days, settings.reply_retention_days
        old = await reply_with_photo(client, alert, resident(uuid.uuid4()), "Long ago")
        photo_gone = await reply_with_photo(client, alert, resident(uuid.uuid4()), "A while ago")
        fresh = await reply_with_photo(client, alert, resident(uuid.uuid4()), "Just now")
        await age(sessions, old, days=reply_days + 1, photo_days=reply_days + 1)
        await age(sessions, photo_gone, days=photo_days + 1, photo_days=photo_days + 1)

        # Two replicas purging at the same moment.
        results = await asyncio.gather(
            purge_expired_feedback(sessions, settings), purge_expired_feedback(sessions, settings)
        )

        photos = sum(r[0] for r in results)
        replies = sum(r[1] for r in results)
        assert photos >= 2 and replies >= 1  # other tests' rows are never this old
        async with sessions() as session:
            assert await session.get(Reply, uuid.UUID(old)) is None
            kept = await session.get(Reply, uuid.UUID(photo_gone))
            assert kept is not None and kept.text == "A while ago"
            assert await session.get(ReplyPhoto, uuid.UUID(photo_gone)) is None
            assert await session.get(Reply, uuid.UUID(fresh)) is not None
            assert await session.get(ReplyPhoto, uuid.UUID(fresh)) is not None
        again = await purge_expired_feedback(sessions, settings)
        assert again == (0, 0)
