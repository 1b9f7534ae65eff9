"""Every SQL statement about deliveries and the alerts they carry. Flushes, never commits: the
caller owns the transaction (a consumer's, a request's, or one of the worker's short ones)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    Row,
    String,
    bindparam,
    delete,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    DispatchAlert,
    MemberEndpoint,
)
from services.dispatch.preferences.rules import DeliveryTarget
from shared.db import utcnow

# The NOTIFY channel on which dispatchers' workers hear that rows became due (wakeup.py).
DELIVERIES_DUE_CHANNEL = "tawny_dispatch_deliveries_due"


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one claimed delivery, as its row will record it."""

    delivery_id: uuid.UUID
    # The row's ``attempts`` when it was claimed: identifies that claim.
    attempt: int
    status: DeliveryStatus
    last_error: str | None = None
    sent_at: datetime | None = None
    # For a retry (status ``created``): when it may be claimed again.
    next_attempt_at: datetime | None = None
    # For a sent one: the provider's id for it, which its receipts quote.
    provider_reference: str | None = None
    # The claim's attempt is given back (a provider-wide outage): it does not count.
    attempt_given_back: bool = False


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: uuid.UUID
    alert_id: uuid.UUID
    member_id: uuid.UUID
    channel: ChannelKind
    attempts: int


_RECORD_RESULTS = text(
    "UPDATE deliveries AS d SET status = r.status, last_error = r.error, sent_at = r.sent, "
    "next_attempt_at = r.due, provider_reference = r.reference, updated_at = :now, "
    "attempts = d.attempts - r.given_back "
    "FROM unnest(:ids, :attempts, :statuses, :errors, :sent, :due, :references, :given_back) "
    "AS r(id, attempt, status, error, sent, due, reference, given_back) "
    "WHERE d.id = r.id AND d.status = 'sending' AND d.attempts = r.attempt"
).bindparams(
    bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))),
    bindparam("attempts", type_=ARRAY(Integer)),
    bindparam("statuses", type_=ARRAY(String)),
    bindparam("errors", type_=ARRAY(String)),
    bindparam("sent", type_=ARRAY(DateTime(timezone=True))),
    bindparam("due", type_=ARRAY(DateTime(timezone=True))),
    bindparam("references", type_=ARRAY(String)),
    bindparam("given_back", type_=ARRAY(Integer)),
    bindparam("now", type_=DateTime(timezone=True)),
)


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- recording ---------------------------------------------------------------------------

    async def store_alert(
        self,
        *,
        alert_id: uuid.UUID,
        content: dict[str, Any],
        priority: int,
        deliver_until: datetime,
    ) -> None:
        """Keep the alert's content once (the first batch to arrive stores it)."""
        await self._session.execute(
            insert(DispatchAlert)
            .values(
                alert_id=alert_id,
                content=content,
                priority=priority,
                deliver_until=deliver_until,
            )
            .on_conflict_do_nothing(index_elements=[DispatchAlert.alert_id])
        )

    async def insert_new(
        self,
        *,
        alert_id: uuid.UUID,
        priority: int,
        targets: Sequence[DeliveryTarget],
    ) -> int:
        """Insert a row per (member, channel) with its first status and due time (now unless
        given); return how many were new.
        The unique constraint turns a redelivered batch into no new rows, so nothing twice."""
        if not targets:
            return 0
        now = utcnow()
        statement = (
            insert(Delivery)
            .values(
                [
                    {
                        "id": uuid.uuid4(),
                        "alert_id": alert_id,
                        "member_id": member_id,
                        "channel": channel,
                        "status": status,
                        "priority": priority,
                        "next_attempt_at": due or now,
                        "attempts": 0,
                    }
                    for member_id, channel, status, due in targets
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[Delivery.alert_id, Delivery.member_id, Delivery.channel]
            )
            .returning(Delivery.id)
        )
        return len((await self._session.execute(statement)).all())

    async def alert_contents(self, alert_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        if not alert_ids:
            return {}
        rows = await self._session.execute(
            select(DispatchAlert.alert_id, DispatchAlert.content).where(
                DispatchAlert.alert_id.in_(alert_ids)
            )
        )
        return {alert_id: content for alert_id, content in rows.all()}

    async def announce_due(self) -> None:
        """Wake every dispatcher's workers once this transaction commits (PostgreSQL delivers a
        NOTIFY at commit, and drops it on rollback): rows it made due are claimed at once."""
        await self._session.execute(
            text("SELECT pg_notify(:channel, '')"), {"channel": DELIVERIES_DUE_CHANNEL}
        )

    # --- the worker's claims and results -----------------------------------------------------

    async def claim(self, *, limit: int, newest_share: int = 0) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due ``created`` rows, most urgent first, and mark them
        ``sending``. Rows other workers hold are skipped, not waited for.

        With ``newest_share``, that many of them come from the other end of the queue (least
        urgent, latest due): a London-wide alert's million rows, all more urgent and due
        earlier, would otherwise hold back every ward alert published after it until its last
        row was sent. Both ends are read from the claim index (forwards and backwards), so the
        share costs one more index probe, not a scan."""
        now = utcnow()
        is_due = (Delivery.status == DeliveryStatus.CREATED, Delivery.next_attempt_at <= now)
        most_urgent = (
            select(Delivery.id)
            .where(*is_due)
            .order_by(Delivery.priority, Delivery.next_attempt_at)
            .limit(limit - newest_share)
            .with_for_update(skip_locked=True)
        )
        if newest_share > 0:
            newest = (
                select(Delivery.id)
                .where(*is_due)
                .order_by(Delivery.priority.desc(), Delivery.next_attempt_at.desc())
                .limit(newest_share)
                .with_for_update(skip_locked=True)
            )
            # CTEs: PostgreSQL takes FOR UPDATE in each, not in a UNION's members.
            head, tail = most_urgent.cte("most_urgent"), newest.cte("newest")
            due = select(head.c.id).union(select(tail.c.id)).scalar_subquery()
        else:
            due = most_urgent.scalar_subquery()
        rows = await self._session.execute(
            update(Delivery)
            .where(Delivery.id.in_(due))
            .values(
                status=DeliveryStatus.SENDING,
                claimed_at=now,
                attempts=Delivery.attempts + 1,
                updated_at=now,
            )
            .returning(
                Delivery.id,
                Delivery.alert_id,
                Delivery.member_id,
                Delivery.channel,
                Delivery.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        return [ClaimedDelivery(*row) for row in rows.all()]

    async def record_results(self, results: Sequence[DeliveryResult]) -> None:
        """Write each claimed row's outcome. Only rows still ``sending`` under the same claim
        change: a row the sweeper took back (and perhaps another worker claimed again) keeps
        what it has now.

        One statement for the whole chunk: the outcomes travel as arrays, joined to the rows by
        ``unnest``, so a chunk of 500 costs one round trip and one plan, not 500."""
        if not results:
            return
        now = utcnow()
        await self._session.execute(
            _RECORD_RESULTS,
            {
                "ids": [result.delivery_id for result in results],
                "attempts": [result.attempt for result in results],
                "statuses": [result.status.value for result in results],
                "errors": [result.last_error for result in results],
                "sent": [result.sent_at for result in results],
                "due": [result.next_attempt_at or now for result in results],
                "references": [result.provider_reference for result in results],
                "given_back": [int(result.attempt_given_back) for result in results],
                "now": now,
            },
        )

    # --- the sweeper -------------------------------------------------------------------------

    async def resume_stuck(self, *, claimed_before: datetime, max_attempts: int) -> tuple[int, int]:
        """Rows left ``sending`` by a worker that died: due again now, or ``failed`` once they
        have been claimed ``max_attempts`` times (a delivery that kills its worker every time).
        Whatever that worker handed over before it died is sent again: the in-flight window.
        Returns (resumed, given up)."""
        now = utcnow()
        stuck = [Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at < claimed_before]
        given_up = await self._session.execute(
            update(Delivery)
            .where(*stuck, Delivery.attempts >= max_attempts)
            .values(
                status=DeliveryStatus.FAILED,
                last_error=f"gave up: its worker stopped while sending, {max_attempts} times",
                updated_at=now,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        resumed = await self._session.execute(
            update(Delivery)
            .where(*stuck)
            .values(
                status=DeliveryStatus.CREATED,
                next_attempt_at=now,
                last_error="resumed: its worker stopped while sending",
                updated_at=now,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return len(resumed.all()), len(given_up.all())

    async def release_pending(
        self, *, member_id: uuid.UUID | None = None, recorded_after: datetime | None = None
    ) -> int:
        """``pending`` rows whose member now has a usable endpoint on the channel, for alerts
        not past their ``deliver_until``: due now. For one member (their verification), or for
        rows recorded after ``recorded_after``: the sweeper's, for a verification that committed
        while a batch that missed it was being recorded (only recent rows can be in that race,
        so the sweeper need not scan every pending row)."""
        now = utcnow()
        conditions = [
            Delivery.status == DeliveryStatus.PENDING,
            exists().where(
                MemberEndpoint.member_id == Delivery.member_id,
                MemberEndpoint.channel == Delivery.channel,
                MemberEndpoint.disabled_at.is_(None),
            ),
            exists().where(
                DispatchAlert.alert_id == Delivery.alert_id, DispatchAlert.deliver_until > now
            ),
        ]
        if member_id is not None:
            conditions.append(Delivery.member_id == member_id)
        if recorded_after is not None:
            conditions.append(Delivery.created_at > recorded_after)
        result = await self._session.execute(
            update(Delivery)
            .where(*conditions)
            .values(status=DeliveryStatus.CREATED, next_attempt_at=now, updated_at=now)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())

    async def expire_pending(self) -> int:
        """``pending`` rows of alerts past their ``deliver_until``: nobody can be reached in
        time any more."""
        now = utcnow()
        expired = select(DispatchAlert.alert_id).where(DispatchAlert.deliver_until <= now)
        result = await self._session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.alert_id.in_(expired))
            .values(
                status=DeliveryStatus.FAILED,
                last_error="no usable endpoint before the alert expired",
                updated_at=now,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())

    # --- reading -----------------------------------------------------------------------------

    async def count_by_channel_and_status(
        self, alert_id: uuid.UUID
    ) -> Sequence[Row[ChannelKind, DeliveryStatus, int]]:
        result = await self._session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.alert_id == alert_id)
            .group_by(Delivery.channel, Delivery.status)
        )
        return result.all()

    async def delete_for_member(self, member_id: uuid.UUID) -> int:
        """Every delivery to the member, whatever its state: one still to be sent would find no
        endpoint, and a worker holding one records nothing once the row is gone."""
        result = await self._session.execute(
            delete(Delivery).where(Delivery.member_id == member_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
