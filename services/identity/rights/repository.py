"""Every SQL statement about a member's data export and erasure that no other domain's
repository holds. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import AuditEntry, Member, OutboxMessage, RefreshToken


class DataRightsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def sessions_of(self, member_id: uuid.UUID, *, limit: int) -> Sequence[RefreshToken]:
        return (
            await self._session.scalars(
                select(RefreshToken)
                .where(RefreshToken.member_id == member_id)
                .order_by(RefreshToken.created_at)
                .limit(limit)
            )
        ).all()

    async def audit_entries_about(self, subject: str, *, limit: int) -> Sequence[AuditEntry]:
        return (
            await self._session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject == subject)
                .order_by(AuditEntry.position)
                .limit(limit)
            )
        ).all()

    async def unverified_for_purge(
        self, registered_before: datetime, *, limit: int
    ) -> Sequence[uuid.UUID]:
        """The oldest accounts never verified, locked; rows another replica is purging are
        skipped."""
        return (
            await self._session.scalars(
                select(Member.id)
                .where(Member.email_verified_at.is_(None), Member.created_at < registered_before)
                .order_by(Member.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()

    async def delete_member(self, member_id: uuid.UUID) -> bool:
        """False when there was no such member. Their dependent rows go by cascade."""
        deleted = await self._session.scalar(
            delete(Member).where(Member.id == member_id).returning(Member.id)
        )
        return deleted is not None

    async def delete_events_of(self, member_id: uuid.UUID) -> None:
        """The member's events in the outbox, published or not (they are keyed by member id)."""
        await self._session.execute(
            delete(OutboxMessage).where(OutboxMessage.key == str(member_id))
        )
