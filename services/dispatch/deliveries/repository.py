"""Every SQL statement about deliveries and the alerts they carry. Flushes, never commits: the
caller owns the transaction (a consumer's, a request's, or one of the worker's short ones)."""

from __future__ import annotations

import os
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Row,
    String,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.dispatch.models import (
    LEASE_HOLDER_MAX_LENGTH,
    SINGLE_ENDPOINT_CHANNELS,
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
class Lease:
    """Who claims, and for how long a claim lasts without renewal."""

    holder: str
    duration_s: float

    @classmethod
    def for_this_process(cls, duration_s: float) -> Lease:
        # The host (a pod's name) and pid say where to look; the random part tells a restarted
        # process with a recycled pid from its predecessor.
        holder = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        return cls(holder=holder[-LEASE_HOLDER_MAX_LENGTH:], duration_s=duration_s)


# The orders claims take rows in: the workers' (Immediate and Extreme first, then the longest
# due), and the digest job's (whole members together).
URGENT_FIRST: tuple[ColumnElement[Any], ...] = (
    Delivery.priority.expression,
    Delivery.next_attempt_at.expression,
)
BY_MEMBER: tuple[ColumnElement[Any], ...] = (
    Delivery.member_id.expression,
    Delivery.next_attempt_at.expression,
)


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: uuid.UUID
    alert_id: uuid.UUID
    member_id: uuid.UUID
    channel: ChannelKind
    attempts: int
    # The member's endpoint (device) it goes to; None for a row recorded before endpoints had
    # ids whose endpoint is gone: nowhere to send it.
    endpoint_id: uuid.UUID | None = None
    # What its previous attempt ended with (a refusal held for confirmation, say).
    last_error: str | None = None


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


# The one claim query, for every table of rows sent under a lease (deliveries, account emails):
# columns status, next_attempt_at, claimed_at, claimed_by, lease_expires_at, attempts,
# updated_at.
async def claim_due(
    session: AsyncSession,
    model: Any,
    *,
    limit: int,
    lease: Lease,
    status: DeliveryStatus,
    order: Sequence[ColumnElement[Any]],
    returning: Sequence[Any],
    now: datetime | None = None,
    newest_share: int = 0,
    where: Sequence[ColumnElement[bool]] = (),
) -> Sequence[Row[Any]]:
    """Take up to ``limit`` rows of ``model`` in ``status`` due by ``now`` (and matching
    ``where``), in ``order``, and mark them ``sending`` under ``lease``. Rows another claim is
    taking are skipped, not waited for. Each claim counts as an attempt. ``newest_share`` of
    the rows come from the other end of ``order`` (see :meth:`DeliveryRepository.claim`)."""
    now = now or utcnow()
    primary_key = model.__mapper__.primary_key[0]
    is_due = (model.status == status, model.next_attempt_at <= now, *where)
    first = (
        select(primary_key)
        .where(*is_due)
        .order_by(*order)
        .limit(limit - newest_share)
        .with_for_update(skip_locked=True)
    )
    due: Any
    if newest_share > 0:
        last = (
            select(primary_key)
            .where(*is_due)
            .order_by(*(column.desc() for column in order))
            .limit(newest_share)
            .with_for_update(skip_locked=True)
        )
        # CTEs: PostgreSQL takes FOR UPDATE in each, not in a UNION's members.
        head, tail = first.cte("first_in_order"), last.cte("last_in_order")
        due = select(head.c[0]).union(select(tail.c[0])).scalar_subquery()
    else:
        due = first.scalar_subquery()
    rows = await session.execute(
        update(model)
        .where(primary_key.in_(due))
        .values(
            status=DeliveryStatus.SENDING,
            claimed_at=now,
            claimed_by=lease.holder,
            lease_expires_at=func.now() + timedelta(seconds=lease.duration_s),
            attempts=model.attempts + 1,
            updated_at=now,
        )
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    return rows.all()


async def renew_leases(session: AsyncSession, model: Any, lease: Lease) -> int:
    """Extend every lease ``lease.holder`` holds on ``model``'s rows; return how many."""
    result = await session.execute(
        update(model)
        .where(model.status == DeliveryStatus.SENDING, model.claimed_by == lease.holder)
        .values(lease_expires_at=func.now() + timedelta(seconds=lease.duration_s))
        .returning(model.__mapper__.primary_key[0])
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


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
        trace_context: dict[str, str] | None = None,
    ) -> None:
        """Keep the alert's content once (the first batch to arrive stores it)."""
        await self._session.execute(
            insert(DispatchAlert)
            .values(
                alert_id=alert_id,
                content=content,
                priority=priority,
                deliver_until=deliver_until,
                trace_context=trace_context,
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
        """Insert a row per (member, channel, endpoint) with its first status and due time (now
        unless given); return how many were new.
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
                        "endpoint_id": endpoint_id,
                        "status": status,
                        "priority": priority,
                        "next_attempt_at": due or now,
                        "attempts": 0,
                    }
                    for member_id, channel, status, due, endpoint_id in targets
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[
                    Delivery.alert_id,
                    Delivery.member_id,
                    Delivery.channel,
                    Delivery.endpoint_id,
                ]
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

    async def alert_trace_contexts(
        self, alert_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, str]]:
        """The trace each alert's sends join (only alerts that arrived inside a trace)."""
        if not alert_ids:
            return {}
        rows = await self._session.execute(
            select(DispatchAlert.alert_id, DispatchAlert.trace_context).where(
                DispatchAlert.alert_id.in_(alert_ids), DispatchAlert.trace_context.is_not(None)
            )
        )
        return {alert_id: trace for alert_id, trace in rows.all() if trace is not None}

    async def announce_due(self) -> None:
        """Wake every dispatcher's workers once this transaction commits (PostgreSQL delivers a
        NOTIFY at commit, and drops it on rollback): rows it made due are claimed at once."""
        await self._session.execute(
            text("SELECT pg_notify(:channel, '')"), {"channel": DELIVERIES_DUE_CHANNEL}
        )

    # --- the worker's claims and results -----------------------------------------------------

    async def claim(
        self,
        *,
        limit: int,
        lease: Lease,
        status: DeliveryStatus = DeliveryStatus.CREATED,
        order: Sequence[ColumnElement[Any]] = URGENT_FIRST,
        now: datetime | None = None,
        newest_share: int = 0,
        channel: ChannelKind | None = None,
    ) -> list[ClaimedDelivery]:
        """Take up to ``limit`` deliveries in ``status`` due by ``now``, in ``order``, and mark
        them ``sending`` under ``lease`` (:func:`claim_due`); only ``channel``'s when given.

        With ``newest_share``, that many of them come from the other end of the queue (least
        urgent, latest due): a London-wide alert's million rows, all more urgent and due
        earlier, would otherwise hold back every ward alert published after it until its last
        row was sent. The workers claim one channel at a time, so that a slow channel's
        backlog (SMTP) never holds up a fast one's (push): the claim index leads with the
        channel, and both ends of one channel's queue are read from it (forwards and
        backwards), so the share costs one more index probe, not a scan. A claim of any
        channel (``channel`` None) reads every due row through the index and sorts them: for
        tests and tools, not the workers. The digest job's claim of ``held`` rows has an index
        of its own."""
        rows = await claim_due(
            self._session,
            Delivery,
            limit=limit,
            lease=lease,
            status=status,
            order=order,
            now=now,
            newest_share=newest_share,
            where=() if channel is None else (Delivery.channel == channel,),
            returning=(
                Delivery.id,
                Delivery.alert_id,
                Delivery.member_id,
                Delivery.channel,
                Delivery.attempts,
                Delivery.endpoint_id,
                Delivery.last_error,
            ),
        )
        return [
            ClaimedDelivery(
                delivery_id=row.id,
                alert_id=row.alert_id,
                member_id=row.member_id,
                channel=row.channel,
                attempts=row.attempts,
                endpoint_id=row.endpoint_id,
                last_error=row.last_error,
            )
            for row in rows
        ]

    async def give_back(self, delivery_ids: Sequence[uuid.UUID], *, status: DeliveryStatus) -> None:
        """Undo a claim of rows still ``sending``: back to ``status``, the attempt not counted."""
        await self._session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), Delivery.status == DeliveryStatus.SENDING)
            .values(
                status=status,
                attempts=Delivery.attempts - 1,
                claimed_at=None,
                claimed_by=None,
                lease_expires_at=None,
            )
            .execution_options(synchronize_session=False)
        )

    async def renew_leases(self, lease: Lease) -> int:
        """Extend every lease ``lease.holder`` holds; return how many rows it holds."""
        return await renew_leases(self._session, Delivery, lease)

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
        """Rows left ``sending`` by a process that died (their lease lapsed), or held longer
        than any live chunk takes (claimed before ``claimed_before``): due again now, or
        ``failed`` once they have been claimed ``max_attempts`` times (a delivery that kills
        its worker every time). Whatever that worker handed over before it died is sent again:
        the in-flight window. Returns (resumed, given up)."""
        now = utcnow()
        stuck = [
            Delivery.status == DeliveryStatus.SENDING,
            or_(Delivery.lease_expires_at < func.now(), Delivery.claimed_at < claimed_before),
        ]
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
    ) -> list[uuid.UUID]:
        """``pending`` rows whose member now has a usable endpoint for them, for alerts not
        past their ``deliver_until``: due now. For one member (their verification), or for
        rows recorded after ``recorded_after``: the sweeper's, for a verification that committed
        while a batch that missed it was being recorded (only recent rows can be in that race,
        so the sweeper need not scan every pending row).

        A row's usable endpoint: on email and SMS the member's one address (the row is pointed
        at it, as a pending row never had one or had the member's earlier one), unless the
        alert already has another row for the member there; on web push and FCM, only the
        device it was recorded for, enabled again (another device has its own row). Returns
        the member of each row released."""
        now = utcnow()
        sibling = aliased(Delivery)
        usable = (
            select(MemberEndpoint.id)
            .where(
                MemberEndpoint.member_id == Delivery.member_id,
                MemberEndpoint.channel == Delivery.channel,
                MemberEndpoint.disabled_at.is_(None),
                or_(
                    MemberEndpoint.id == Delivery.endpoint_id,
                    Delivery.channel.in_(SINGLE_ENDPOINT_CHANNELS),
                ),
            )
            .limit(1)
            .scalar_subquery()
        )
        conditions = [
            Delivery.status == DeliveryStatus.PENDING,
            usable.is_not(None),
            ~exists().where(
                sibling.alert_id == Delivery.alert_id,
                sibling.member_id == Delivery.member_id,
                sibling.channel == Delivery.channel,
                sibling.id != Delivery.id,
                Delivery.channel.in_(SINGLE_ENDPOINT_CHANNELS),
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
            .values(
                status=DeliveryStatus.CREATED,
                endpoint_id=usable,
                next_attempt_at=now,
                updated_at=now,
            )
            .returning(Delivery.member_id)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars().all())

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

    async def give_up_unsent_for_member(self, member_id: uuid.UUID, *, reason: str) -> int:
        """The member's deliveries not handed to a provider yet (due, pending, held for a
        digest or waiting for quiet hours to end) become ``failed`` with ``reason``."""
        now = utcnow()
        result = await self._session.execute(
            update(Delivery)
            .where(
                Delivery.member_id == member_id,
                Delivery.status.in_(
                    (DeliveryStatus.CREATED, DeliveryStatus.PENDING, DeliveryStatus.HELD)
                ),
            )
            .values(status=DeliveryStatus.FAILED, last_error=reason, updated_at=now)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())
