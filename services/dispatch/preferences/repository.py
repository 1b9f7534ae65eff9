"""Every SQL statement about members' preferences. Flushes, never commits: the caller owns the
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import any_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import (
    Delivery,
    DeliveryStatus,
    DispatchAlert,
    MemberPreferences,
    uuid_array,
)
from services.dispatch.preferences.rules import Replanned, UnsentDelivery


class PreferencesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def languages_of(self, member_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The language each of these members chose, for those who chose one."""
        if not member_ids:
            return {}
        rows = await self._session.execute(
            select(MemberPreferences.member_id, MemberPreferences.language).where(
                MemberPreferences.member_id == any_(uuid_array(member_ids))
            )
        )
        return {member_id: language for member_id, language in rows.all()}

    async def for_members(self, member_ids: Sequence[uuid.UUID]) -> Sequence[MemberPreferences]:
        """The rows of those members who have any, in one query (a whole recipient batch)."""
        if not member_ids:
            return []
        return (
            await self._session.scalars(
                select(MemberPreferences).where(MemberPreferences.member_id.in_(member_ids))
            )
        ).all()

    async def get(
        self, member_id: uuid.UUID, *, for_update: bool = False
    ) -> MemberPreferences | None:
        statement = select(MemberPreferences).where(MemberPreferences.member_id == member_id)
        if for_update:
            statement = statement.with_for_update()
        return await self._session.scalar(statement)

    async def save(self, member_id: uuid.UUID, values: dict[str, Any]) -> MemberPreferences:
        """Insert the member's row, or replace every value of the existing one."""
        statement = (
            insert(MemberPreferences)
            .values(member_id=member_id, **values)
            .on_conflict_do_update(
                index_elements=[MemberPreferences.member_id],
                set_={**values, "updated_at": func.now()},
            )
            .returning(MemberPreferences)
            .execution_options(populate_existing=True)
        )
        return (await self._session.scalars(statement)).one()

    async def delete_for_member(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(
            delete(MemberPreferences).where(MemberPreferences.member_id == member_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# Not yet handed to a provider: what a preference change may still alter.
UNSENT = (DeliveryStatus.CREATED, DeliveryStatus.HELD, DeliveryStatus.PENDING)


class UnsentDeliveryRepository:
    """A member's deliveries not yet sent, for re-planning them under new preferences."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_member(self, member_id: uuid.UUID) -> list[tuple[UnsentDelivery, dict[str, Any]]]:
        """Each unsent delivery with its alert's content. Locked ``SKIP LOCKED``: a row a
        worker is claiming right now is being sent as it was planned."""
        rows = await self._session.execute(
            select(
                Delivery.id,
                Delivery.channel,
                Delivery.status,
                Delivery.next_attempt_at,
                Delivery.attempts,
                DispatchAlert.content,
            )
            .join(DispatchAlert, DispatchAlert.alert_id == Delivery.alert_id)
            .where(Delivery.member_id == member_id, Delivery.status.in_(UNSENT))
            .with_for_update(of=Delivery, skip_locked=True)
        )
        return [(UnsentDelivery(*row[:5]), row[5]) for row in rows.all()]

    async def apply(self, changes: Sequence[Replanned], *, reason: str) -> None:
        for change in changes:
            await self._session.execute(
                update(Delivery)
                .where(Delivery.id == change.delivery_id, Delivery.status.in_(UNSENT))
                .values(
                    status=change.status,
                    next_attempt_at=change.next_attempt_at,
                    last_error=reason if change.status is DeliveryStatus.FAILED else None,
                    updated_at=func.now(),
                )
                .execution_options(synchronize_session=False)
            )
