"""Every SQL statement about alerts. Flushes, never commits: the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import (
    Alert,
    AlertState,
    AuditEntry,
    CapStatus,
    CrimeType,
    MsgType,
    Scope,
)
from shared.pagination import Cursor, before

LIVE_STATES = (AlertState.PUBLISHED, AlertState.UPDATED)


@dataclass(frozen=True)
class AlertFilters:
    """What staff may narrow the alert list by; every given filter must hold."""

    state: AlertState | None = None
    crime_type: CrimeType | None = None
    msg_type: MsgType | None = None
    author_id: uuid.UUID | None = None
    ward_code: str | None = None
    borough_code: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, alert: Alert) -> Alert:
        self._session.add(alert)
        await self._session.flush()
        return alert

    async def add_audit(self, entry: AuditEntry) -> None:
        self._session.add(entry)
        await self._session.flush()

    async def get(self, alert_id: uuid.UUID) -> Alert | None:
        return await self._session.get(Alert, alert_id)

    async def get_by_identifier(self, sender: str, identifier: str) -> Alert | None:
        alert: Alert | None = await self._session.scalar(
            select(Alert).where(Alert.sender == sender, Alert.identifier == identifier)
        )
        return alert

    async def get_for_update(self, alert_id: uuid.UUID) -> Alert | None:
        """The alert, locked until the transaction ends, so that two requests changing its
        state take turns; the second sees what the first committed (``populate_existing``)."""
        alert: Alert | None = await self._session.scalar(
            select(Alert)
            .where(Alert.id == alert_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return alert

    async def follow_ups(self, original_id: uuid.UUID) -> Sequence[Alert]:
        """The Updates and Cancel that reference an alert and went out, oldest first."""
        return (
            await self._session.scalars(
                select(Alert)
                .where(Alert.references_id == original_id, Alert.published_at.is_not(None))
                .order_by(Alert.published_at, Alert.created_at)
            )
        ).all()

    async def set_follow_ups_crime_type(
        self, original_id: uuid.UUID, crime_type: CrimeType
    ) -> None:
        """Every Update and Cancel of the alert, sent or held, takes the corrected crime type."""
        await self._session.execute(
            update(Alert).where(Alert.references_id == original_id).values(crime_type=crime_type)
        )

    async def held_update(self, original_id: uuid.UUID) -> Alert | None:
        """The Update of an alert that waits for officers' approval, if there is one."""
        held: Alert | None = await self._session.scalar(
            select(Alert)
            .where(
                Alert.references_id == original_id,
                Alert.msg_type == MsgType.UPDATE,
                Alert.state == AlertState.SUBMITTED,
            )
            .limit(1)
        )
        return held

    async def audit(self, alert_id: uuid.UUID) -> Sequence[AuditEntry]:
        return (
            await self._session.scalars(
                select(AuditEntry)
                .where(AuditEntry.alert_id == alert_id)
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        ).all()

    async def list_newest_first(
        self,
        *,
        filters: AlertFilters | None = None,
        limit: int,
        offset: int = 0,
        cursor: Cursor | None = None,
    ) -> Sequence[Alert]:
        query = select(Alert)
        if cursor is not None:
            query = query.where(before(Alert.created_at, Alert.id, cursor))
        f = filters or AlertFilters()
        if f.state is not None:
            query = query.where(Alert.state == f.state)
        if f.crime_type is not None:
            query = query.where(Alert.crime_type == f.crime_type)
        if f.msg_type is not None:
            query = query.where(Alert.msg_type == f.msg_type)
        if f.author_id is not None:
            query = query.where(Alert.author_id == f.author_id)
        if f.ward_code is not None:
            query = query.where(Alert.touched_ward_codes.contains([f.ward_code]))
        if f.borough_code is not None:
            query = query.where(Alert.touched_borough_codes.contains([f.borough_code]))
        if f.created_from is not None:
            query = query.where(Alert.created_at >= f.created_from)
        if f.created_before is not None:
            query = query.where(Alert.created_at < f.created_before)
        query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
        return (await self._session.scalars(query)).all()

    async def due_for_publishing(self, now: datetime, *, limit: int) -> Sequence[Alert]:
        """Scheduled alerts whose time has come, locked; ones another replica holds are skipped."""
        return (
            await self._session.scalars(
                select(Alert)
                .where(Alert.state == AlertState.SCHEDULED, Alert.scheduled_for <= now)
                .order_by(Alert.scheduled_for)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()

    async def due_for_expiry(self, now: datetime, *, limit: int) -> Sequence[Alert]:
        return (
            await self._session.scalars(
                select(Alert)
                .where(Alert.state.in_(LIVE_STATES), Alert.expires <= now)
                .order_by(Alert.expires)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()

    async def live_public(
        self,
        *,
        now: datetime,
        ward_code: str | None,
        borough_code: str | None,
        limit: int,
        ward_borough_code: str | None = None,
    ) -> Sequence[Alert]:
        """Live public Actual alerts (originals) touching a ward or a borough, newest first.

        A ward is touched by its code or a shape over it (``touched_ward_codes``), and by a
        target of its whole borough (``ward_borough_code``); a borough by anything in it."""
        query = select(Alert).where(
            Alert.msg_type == MsgType.ALERT,
            Alert.state.in_(LIVE_STATES),
            Alert.expires > now,
            Alert.scope == Scope.PUBLIC,
            Alert.cap_status == CapStatus.ACTUAL,
        )
        if ward_code is not None:
            touches_ward = Alert.touched_ward_codes.contains([ward_code])
            if ward_borough_code is not None:
                touches_ward = or_(
                    touches_ward, Alert.target_borough_codes.contains([ward_borough_code])
                )
            query = query.where(touches_ward)
        if borough_code is not None:
            query = query.where(Alert.touched_borough_codes.contains([borough_code]))
        query = query.order_by(Alert.published_at.desc(), Alert.id.desc()).limit(limit)
        return (await self._session.scalars(query)).all()

    async def latest_follow_ups(self, original_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Alert]:
        """For each original, its newest follow-up message, if it has one."""
        if not original_ids:
            return {}
        newest = (
            select(Alert.id)
            .where(Alert.references_id.in_(original_ids), Alert.published_at.is_not(None))
            .ext(distinct_on(Alert.references_id))
            .order_by(Alert.references_id, Alert.published_at.desc(), Alert.created_at.desc())
        )
        rows = (await self._session.scalars(select(Alert).where(Alert.id.in_(newest)))).all()
        return {row.references_id: row for row in rows if row.references_id is not None}

    async def count(self) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(Alert)) or 0)
