"""What every service does with identity's member lifecycle events, defined once: a table of
the members identity suspended (``member.suspended`` adds a row, ``member.reinstated`` removes
it), its repository, and the handlers that call a service's own lifecycle rules for
``member.erased``, ``member.suspended``, ``member.reinstated`` and ``member.export_requested``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import DateTime, any_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.consumer import Handler
from shared.events import (
    EventEnvelope,
    EventPayload,
    MemberErased,
    MemberExportRequested,
    MemberReinstated,
    MemberSuspended,
)


class SuspendedMemberMixin:
    """Columns of a service's ``suspended_members`` table."""

    __tablename__ = "suspended_members"

    if TYPE_CHECKING:

        def __init__(self, **columns: Any) -> None: ...

    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    suspended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SuspensionRepository:
    """Every SQL statement about suspended members. Flushes, never commits."""

    def __init__(self, session: AsyncSession, model: type[SuspendedMemberMixin]) -> None:
        self._session = session
        self._model = model

    async def suspend(self, member_id: uuid.UUID, *, at: datetime) -> None:
        statement = insert(self._model).values(member_id=member_id, suspended_at=at)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["member_id"],
                set_={"suspended_at": statement.excluded.suspended_at},
            )
        )

    async def reinstate(self, member_id: uuid.UUID) -> bool:
        result = await self._session.execute(
            delete(self._model).where(self._model.member_id == member_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def suspended_at(self, member_id: uuid.UUID) -> datetime | None:
        suspended: datetime | None = await self._session.scalar(
            select(self._model.suspended_at).where(self._model.member_id == member_id)
        )
        return suspended

    async def suspended_among(self, member_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``member_ids`` are suspended (one query for a whole batch)."""
        if not member_ids:
            return set()
        # One array parameter: a recipient batch has hundreds of ids.
        ids = bindparam("member_ids", list(member_ids), type_=ARRAY(PG_UUID(as_uuid=True)))
        found = await self._session.scalars(
            select(self._model.member_id).where(self._model.member_id == any_(ids))
        )
        return set(found.all())


class MemberLifecycle(Protocol):
    """A service's own rules for identity's member events."""

    async def erase(self, member_id: uuid.UUID, *, keep_reply_text: bool) -> None: ...

    async def suspend(self, member_id: uuid.UUID, *, at: datetime) -> None: ...

    async def reinstate(self, member_id: uuid.UUID) -> None: ...

    async def collect_export(self, member_id: uuid.UUID, export_id: uuid.UUID) -> None: ...


def lifecycle_handlers(
    lifecycle: Callable[[AsyncSession], MemberLifecycle],
) -> Mapping[type[EventPayload], Handler]:
    """The consumer handlers of the four lifecycle events, each calling ``lifecycle``'s rule
    in the handler's session."""

    async def on_erased(
        session: AsyncSession, envelope: EventEnvelope, payload: MemberErased
    ) -> None:
        await lifecycle(session).erase(payload.member_id, keep_reply_text=payload.keep_reply_text)

    async def on_suspended(
        session: AsyncSession, envelope: EventEnvelope, payload: MemberSuspended
    ) -> None:
        await lifecycle(session).suspend(payload.member_id, at=envelope.occurred_at)

    async def on_reinstated(
        session: AsyncSession, envelope: EventEnvelope, payload: MemberReinstated
    ) -> None:
        await lifecycle(session).reinstate(payload.member_id)

    async def on_export_requested(
        session: AsyncSession, envelope: EventEnvelope, payload: MemberExportRequested
    ) -> None:
        await lifecycle(session).collect_export(payload.member_id, payload.export_id)

    return {
        MemberErased: on_erased,
        MemberSuspended: on_suspended,
        MemberReinstated: on_reinstated,
        MemberExportRequested: on_export_requested,
    }
