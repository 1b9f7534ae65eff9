"""Every SQL statement about phone confirmations and registered endpoints. Flushes, never
commits: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import PhoneCodeRequestCount, PhoneConfirmation
from shared.db import utcnow
from shared.request_limits import count_request


class RegistrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def pending_for(
        self, member_id: uuid.UUID, *, lock: bool = False
    ) -> PhoneConfirmation | None:
        return await self._session.get(PhoneConfirmation, member_id, with_for_update=lock)

    async def start_confirmation(
        self,
        *,
        member_id: uuid.UUID,
        phone_number: str,
        code_hash: str,
        expires_at: datetime,
        tries: int,
    ) -> None:
        """The member's one pending confirmation, replacing any earlier one."""
        statement = insert(PhoneConfirmation).values(
            member_id=member_id,
            phone_number=phone_number,
            code_hash=code_hash,
            expires_at=expires_at,
            tries_left=tries,
        )
        new = statement.excluded
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[PhoneConfirmation.member_id],
                set_={
                    "phone_number": new.phone_number,
                    "code_hash": new.code_hash,
                    "expires_at": new.expires_at,
                    "tries_left": new.tries_left,
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                },
            )
        )

    async def use_a_try(self, member_id: uuid.UUID) -> None:
        await self._session.execute(
            update(PhoneConfirmation)
            .where(PhoneConfirmation.member_id == member_id, PhoneConfirmation.tries_left > 0)
            .values(tries_left=PhoneConfirmation.tries_left - 1, updated_at=utcnow())
        )

    async def end_confirmation(self, member_id: uuid.UUID) -> None:
        await self._session.execute(
            delete(PhoneConfirmation).where(PhoneConfirmation.member_id == member_id)
        )

    async def count_code_request(
        self, key: str, *, at: datetime, window_started_after: datetime
    ) -> int:
        """One more code asked for the number under ``key`` (``shared.request_limits``)."""
        return await count_request(
            self._session,
            PhoneCodeRequestCount,
            key,
            at=at,
            window_started_after=window_started_after,
        )
