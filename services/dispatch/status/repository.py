"""Every SQL statement of the delivery status reporter. Flushes, never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import (
    ChannelKind,
    Delivery,
    DeliveryStatsReport,
    DeliveryStatus,
    DispatchAlert,
)
from shared.events import DeliveryCounts

# Before any check: every alert's first look finds its deliveries changed.
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ClaimedReport:
    alert_id: uuid.UUID
    totals: dict[str, Any]


class StatusRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_new_alerts(self) -> None:
        """A report row for every alert that has none yet."""
        unreported = select(
            DispatchAlert.alert_id,
            literal(NEVER, DateTime(timezone=True)),
            literal({}, JSONB),
        ).where(~exists().where(DeliveryStatsReport.alert_id == DispatchAlert.alert_id))
        await self._session.execute(
            insert(DeliveryStatsReport)
            .from_select(["alert_id", "checked_at", "totals"], unreported)
            .on_conflict_do_nothing(index_elements=[DeliveryStatsReport.alert_id])
        )

    async def claim_changed(
        self, *, now: datetime, interval: timedelta, margin: timedelta, limit: int
    ) -> list[ClaimedReport]:
        """Alerts not checked in the last ``interval`` whose deliveries changed since their last
        check (less ``margin``: a change is stamped before its transaction commits, so one that
        committed just after a check may carry an earlier time). Locked: a report another
        process is making is skipped, not waited for."""
        report = DeliveryStatsReport
        changed = exists().where(
            Delivery.alert_id == report.alert_id, Delivery.updated_at > report.checked_at - margin
        )
        rows = await self._session.execute(
            select(report.alert_id, report.totals)
            .where(report.checked_at <= now - interval, changed)
            .order_by(report.checked_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=report)
        )
        return [ClaimedReport(alert_id, totals) for alert_id, totals in rows.all()]

    async def totals(self, alert_id: uuid.UUID) -> dict[str, DeliveryCounts]:
        """The alert's running totals per channel, counted from its deliveries, in people: a
        member with two browsers is one recipient, sent to (delivered) once any device was,
        and failed only when every device failed. On email and SMS, one row per member, that
        is the rows."""
        per_member = (
            select(
                Delivery.channel.label("channel"),
                func.bool_or(Delivery.sent_at.is_not(None)).label("sent"),
                func.bool_or(Delivery.delivered_at.is_not(None)).label("delivered"),
                func.bool_and(Delivery.status == DeliveryStatus.FAILED).label("failed"),
            )
            .where(Delivery.alert_id == alert_id)
            .group_by(Delivery.member_id, Delivery.channel)
            .subquery()
        )
        rows = await self._session.execute(
            select(
                per_member.c.channel,
                func.count(),
                func.count().filter(per_member.c.sent),
                func.count().filter(per_member.c.delivered),
                func.count().filter(per_member.c.failed),
            ).group_by(per_member.c.channel)
        )
        return {
            ChannelKind(channel).value: DeliveryCounts(
                recipients=recipients, sent=sent, delivered=delivered, failed=failed
            )
            for channel, recipients, sent, delivered, failed in rows.all()
        }

    async def mark_checked(
        self, alert_id: uuid.UUID, *, now: datetime, totals: dict[str, Any] | None
    ) -> None:
        """Checked at ``now``; with ``totals``, also reported then."""
        values: dict[str, Any] = {"checked_at": now}
        if totals is not None:
            values.update(totals=totals, reported_at=now)
        await self._session.execute(
            update(DeliveryStatsReport)
            .where(DeliveryStatsReport.alert_id == alert_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class ChannelBacklog:
    """One channel's deliveries waiting and in hand, as of the database's now."""

    due: int = 0
    # How long the oldest due delivery has been due, seconds (0 when none is).
    oldest_due_s: float = 0.0
    # Claimed ('sending') under a live lease, and under one that lapsed (its process died:
    # the sweeper's to take back).
    leased: int = 0
    lapsed: int = 0


class BacklogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_channel(self) -> dict[ChannelKind, ChannelBacklog]:
        """Two statements, each over one partial index's rows (due ``created`` rows; the
        claims in flight), never over the whole table."""
        found: dict[ChannelKind, dict[str, Any]] = {}
        due = await self._session.execute(
            select(
                Delivery.channel,
                func.count(),
                func.extract("epoch", func.now() - func.min(Delivery.next_attempt_at)),
            )
            .where(
                Delivery.status == DeliveryStatus.CREATED, Delivery.next_attempt_at <= func.now()
            )
            .group_by(Delivery.channel)
        )
        for channel, count, oldest_s in due.all():
            found.setdefault(channel, {}).update(due=count, oldest_due_s=max(0.0, float(oldest_s)))
        lapsed = Delivery.lease_expires_at.is_(None) | (Delivery.lease_expires_at < func.now())
        in_flight = await self._session.execute(
            select(
                Delivery.channel,
                func.count().filter(~lapsed),
                func.count().filter(lapsed),
            )
            .where(Delivery.status == DeliveryStatus.SENDING)
            .group_by(Delivery.channel)
        )
        for channel, leased, lapsed_count in in_flight.all():
            found.setdefault(channel, {}).update(leased=leased, lapsed=lapsed_count)
        return {channel: ChannelBacklog(**values) for channel, values in found.items()}
