"""SQL about members' replies and usefulness marks. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import Alert, Reply, ReplyPhoto, Usefulness
from shared.pagination import Cursor, before


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def mark(self, alert_id: uuid.UUID, member_id: uuid.UUID, *, useful: bool) -> None:
        statement = insert(Usefulness).values(alert_id=alert_id, member_id=member_id, useful=useful)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[Usefulness.alert_id, Usefulness.member_id],
                set_={"useful": statement.excluded.useful, "updated_at": func.now()},
            )
        )

    async def usefulness(self, alert_id: uuid.UUID) -> tuple[int, int]:
        rows = await self._session.execute(
            select(Usefulness.useful, func.count())
            .where(Usefulness.alert_id == alert_id)
            .group_by(Usefulness.useful)
        )
        counts = {bool(row[0]): int(row[1]) for row in rows}
        return counts.get(True, 0), counts.get(False, 0)

    async def add_reply(self, reply: Reply) -> Reply:
        self._session.add(reply)
        await self._session.flush()
        return reply

    async def replies_since(self, member_id: uuid.UUID, since: datetime) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(Reply)
            .where(Reply.member_id == member_id, Reply.created_at >= since)
        )
        return int(count or 0)

    async def replies(
        self, alert_id: uuid.UUID, *, limit: int, offset: int = 0, cursor: Cursor | None = None
    ) -> Sequence[Reply]:
        query = select(Reply).where(Reply.alert_id == alert_id)
        if cursor is not None:
            query = query.where(before(Reply.created_at, Reply.id, cursor))
        return (
            await self._session.scalars(
                query.order_by(Reply.created_at.desc(), Reply.id.desc()).limit(limit).offset(offset)
            )
        ).all()

    async def reply_for_update(self, alert_id: uuid.UUID, reply_id: uuid.UUID) -> Reply | None:
        reply: Reply | None = await self._session.scalar(
            select(Reply).where(Reply.id == reply_id, Reply.alert_id == alert_id).with_for_update()
        )
        return reply

    async def add_photo(self, photo: ReplyPhoto) -> ReplyPhoto:
        self._session.add(photo)
        await self._session.flush()
        return photo

    async def photo(self, reply_id: uuid.UUID) -> ReplyPhoto | None:
        return await self._session.get(ReplyPhoto, reply_id)

    async def replies_with_photos(self, reply_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not reply_ids:
            return set()
        found = await self._session.scalars(
            select(ReplyPhoto.reply_id).where(ReplyPhoto.reply_id.in_(reply_ids))
        )
        return set(found.all())

    async def reply_counts(self, alert_id: uuid.UUID) -> tuple[int, int]:
        row = (
            await self._session.execute(
                select(func.count(), func.count(Reply.answered_at)).where(
                    Reply.alert_id == alert_id
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def follow_up_count(self, alert_id: uuid.UUID) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.references_id == alert_id, Alert.published_at.is_not(None))
        )
        return int(count or 0)
