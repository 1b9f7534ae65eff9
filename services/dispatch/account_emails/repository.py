"""Every SQL statement about account emails (verification, password reset). Flushes, never
commits: the consumer or the sender owns each short transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.deliveries.repository import Lease, claim_due, renew_leases
from services.dispatch.models import AccountEmail, AccountEmailKind, DeliveryStatus
from shared.db import utcnow


@dataclass(frozen=True)
class ClaimedAccountEmail:
    event_id: uuid.UUID
    member_id: uuid.UUID
    kind: AccountEmailKind
    payload: dict[str, Any]
    # The row's attempts when it was claimed: identifies that claim.
    attempts: int


class AccountEmailRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        event_id: uuid.UUID,
        member_id: uuid.UUID,
        kind: AccountEmailKind,
        payload: dict[str, Any],
    ) -> bool:
        """One row per event, due now: a redelivered event records nothing new."""
        result = await self._session.execute(
            insert(AccountEmail)
            .values(event_id=event_id, member_id=member_id, kind=kind, payload=payload)
            .on_conflict_do_nothing(index_elements=[AccountEmail.event_id])
            .returning(AccountEmail.event_id)
        )
        return result.first() is not None

    async def claim(self, *, limit: int, lease: Lease) -> list[ClaimedAccountEmail]:
        rows = await claim_due(
            self._session,
            AccountEmail,
            limit=limit,
            lease=lease,
            status=DeliveryStatus.CREATED,
            order=(AccountEmail.next_attempt_at.expression,),
            returning=(
                AccountEmail.event_id,
                AccountEmail.member_id,
                AccountEmail.kind,
                AccountEmail.payload,
                AccountEmail.attempts,
            ),
        )
        return [
            ClaimedAccountEmail(row.event_id, row.member_id, row.kind, row.payload, row.attempts)
            for row in rows
            if row.payload is not None
        ]

    async def renew_leases(self, lease: Lease) -> int:
        return await renew_leases(self._session, AccountEmail, lease)

    async def resume_lapsed(self) -> int:
        """Rows whose sender died (their lease lapsed): due again now."""
        result = await self._session.execute(
            update(AccountEmail)
            .where(
                AccountEmail.status == DeliveryStatus.SENDING,
                AccountEmail.lease_expires_at < func.now(),
            )
            .values(status=DeliveryStatus.CREATED, next_attempt_at=utcnow(), updated_at=utcnow())
            .returning(AccountEmail.event_id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())

    async def record_outcome(
        self,
        email: ClaimedAccountEmail,
        *,
        status: DeliveryStatus,
        last_error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Only under the claim it answers (a row taken back meanwhile keeps what it has). A
        final status forgets the payload: the link in it is a secret nobody needs any more."""
        now = utcnow()
        final = status in (DeliveryStatus.SENT, DeliveryStatus.FAILED)
        values: dict[str, Any] = {
            "status": status,
            "last_error": last_error,
            "updated_at": now,
            "next_attempt_at": next_attempt_at or now,
        }
        if status is DeliveryStatus.SENT:
            values["sent_at"] = now
        if final:
            values["payload"] = None
        await self._session.execute(
            update(AccountEmail)
            .where(
                AccountEmail.event_id == email.event_id,
                AccountEmail.status == DeliveryStatus.SENDING,
                AccountEmail.attempts == email.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def delete_for_member(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(
            delete(AccountEmail).where(AccountEmail.member_id == member_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
