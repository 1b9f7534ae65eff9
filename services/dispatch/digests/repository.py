"""Every SQL statement of the digest job. Flushes, never commits: the job owns its short
transactions. Its claim is the delivery workers' claim (``DeliveryRepository.claim``), on held
rows, whole members at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.deliveries.repository import (
    BY_MEMBER,
    ClaimedDelivery,
    DeliveryRepository,
    Lease,
)
from services.dispatch.models import DeliveryStatus

# The advisory lock that takes digest claims one at a time across every dispatch process.
DIGEST_CLAIM_LOCK = 0x7A_77_6E_79_64_69_67  # "tawnydig"


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._deliveries = DeliveryRepository(session)

    async def claim_due(self, *, now: datetime, limit: int, lease: Lease) -> list[ClaimedDelivery]:
        """Take held deliveries whose digest time has come, whole members at a time, and mark
        them ``sending`` under ``lease``, so that each digest is claimed by one process only.

        Claims are taken one at a time (a transaction-scoped advisory lock, held only for this
        short transaction): with ``SKIP LOCKED`` alone, a process could take a member's rows
        that another is claiming only in part, and the member would get two digests.

        When ``limit`` cuts a member's rows in two, that member is given back (their rows
        return to ``held``) so that their digest is one email, next run; unless they are the
        only member claimed (more held alerts than ``limit``: they get several emails)."""
        await self._session.execute(select(func.pg_advisory_xact_lock(DIGEST_CLAIM_LOCK)))
        claimed = await self._deliveries.claim(
            limit=limit, lease=lease, status=DeliveryStatus.HELD, order=BY_MEMBER, now=now
        )
        members = {row.member_id for row in claimed}
        if len(claimed) < limit or len(members) < 2:
            return claimed
        cut = max(members)  # the claim is ordered by member: only the last can be incomplete
        await self._deliveries.give_back(
            [row.delivery_id for row in claimed if row.member_id == cut],
            status=DeliveryStatus.HELD,
        )
        return [row for row in claimed if row.member_id != cut]
