"""Every SQL statement of the digest job. Flushes, never commits: the job owns its short
transactions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import Delivery, DeliveryStatus


@dataclass(frozen=True)
class HeldDelivery:
    delivery_id: uuid.UUID
    alert_id: uuid.UUID
    member_id: uuid.UUID
    attempts: int


# The advisory lock that takes digest claims one at a time across every dispatch process.
DIGEST_CLAIM_LOCK = 0x7A_77_6E_79_64_69_67  # "tawnydig"


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim_due(self, *, now: datetime, limit: int) -> list[HeldDelivery]:
        """Take held deliveries whose digest time has come, whole members at a time, and mark
        them ``sending``, so that each digest is claimed by one process only.

        Claims are taken one at a time (a transaction-scoped advisory lock, held only for this
        short transaction): with ``SKIP LOCKED`` alone, a process could take a member's rows
        that another is claiming only in part, and the member would get two digests.

        When ``limit`` cuts a member's rows in two, that member is given back (their rows
        return to ``held``) so that their digest is one email, next run; unless they are the
        only member claimed (more held alerts than ``limit``: they get several emails)."""
        await self._session.execute(select(func.pg_advisory_xact_lock(DIGEST_CLAIM_LOCK)))
        due = (
            select(Delivery.id)
            .where(Delivery.status == DeliveryStatus.HELD, Delivery.next_attempt_at <= now)
            .order_by(Delivery.member_id, Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self._session.execute(
            update(Delivery)
            .where(Delivery.id.in_(due))
            .values(
                status=DeliveryStatus.SENDING,
                claimed_at=now,
                attempts=Delivery.attempts + 1,
                updated_at=now,
            )
            .returning(Delivery.id, Delivery.alert_id, Delivery.member_id, Delivery.attempts)
            .execution_options(synchronize_session=False)
        )
        claimed = [HeldDelivery(*row) for row in rows.all()]
        members = {row.member_id for row in claimed}
        if len(claimed) < limit or len(members) < 2:
            return claimed
        cut = max(members)  # the claim is ordered by member: only the last can be incomplete
        await self._session.execute(
            update(Delivery)
            .where(
                and_(
                    Delivery.id.in_([row.delivery_id for row in claimed if row.member_id == cut]),
                    Delivery.status == DeliveryStatus.SENDING,
                )
            )
            .values(status=DeliveryStatus.HELD, attempts=Delivery.attempts - 1, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        return [row for row in claimed if row.member_id != cut]
