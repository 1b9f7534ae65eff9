"""Every SQL statement of the dashboard: its per-alert facts and the cells they add up to."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import Select, func, select, text, union
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import (
    DASHBOARD_COUNTS,
    Alert,
    DashboardAlertFact,
    DashboardCell,
    DashboardWatchers,
    MsgType,
)
from shared.events import AreaWatchers


@dataclass(frozen=True, order=True)
class CellKey:
    month: date
    area_kind: str
    area_code: str
    crime_type: str
    borough_code: str | None


@dataclass(frozen=True)
class CellQuery:
    """Which cells to read; None means any."""

    first_month: date
    last_month: date
    area_kind: str | None = None
    area_code: str | None = None
    borough_code: str | None = None
    crime_type: str | None = None


AreaRow = TypeVar("AreaRow", DashboardCell, DashboardWatchers)


def _areas_of(
    statement: Select[AreaRow], table: type[AreaRow], query: CellQuery
) -> Select[AreaRow]:
    """The query's months and areas, for the cells or the members-watching counts."""
    statement = statement.where(table.month >= query.first_month, table.month <= query.last_month)
    if query.area_kind is not None:
        statement = statement.where(table.area_kind == query.area_kind)
    if query.area_code is not None:
        statement = statement.where(table.area_code == query.area_code)
    if query.borough_code is not None:
        statement = statement.where(table.borough_code == query.borough_code)
    return statement


class DashboardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_alert(self, alert_id: uuid.UUID) -> None:
        """Serialise recounts of one alert until the transaction ends: two marks committed at
        once must not both apply their difference against the same old fact. An advisory lock
        rather than the alert's row, which authoring holds for longer."""
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 20))"),
            {"key": f"dashboard:{alert_id}"},
        )

    async def fact(self, alert_id: uuid.UUID) -> DashboardAlertFact | None:
        return await self._session.get(DashboardAlertFact, alert_id, populate_existing=True)

    async def save_fact(self, fact: DashboardAlertFact) -> None:
        self._session.add(fact)
        await self._session.flush()

    async def delete_fact(self, fact: DashboardAlertFact) -> None:
        await self._session.delete(fact)
        await self._session.flush()

    async def add_to_cells(self, deltas: Mapping[CellKey, Mapping[str, int]]) -> None:
        """Add each key's differences to its cell (creating it at zero first). Keys go in one
        statement, in order, so two transactions touching the same cells cannot deadlock."""
        if not deltas:
            return
        rows = [
            {
                "month": key.month,
                "area_kind": key.area_kind,
                "area_code": key.area_code,
                "crime_type": key.crime_type,
                "borough_code": key.borough_code,
                **{name: deltas[key].get(name, 0) for name in DASHBOARD_COUNTS},
            }
            for key in sorted(
                deltas, key=lambda k: (k.month, k.area_kind, k.area_code, k.crime_type)
            )
        ]
        statement = insert(DashboardCell).values(rows)
        table = DashboardCell.__table__
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["month", "area_kind", "area_code", "crime_type"],
                set_={name: table.c[name] + statement.excluded[name] for name in DASHBOARD_COUNTS},
            )
        )

    async def cells(self, query: CellQuery, *, limit: int) -> Sequence[DashboardCell]:
        statement = _areas_of(select(DashboardCell), DashboardCell, query)
        if query.crime_type is not None:
            statement = statement.where(DashboardCell.crime_type == query.crime_type)
        statement = statement.order_by(
            DashboardCell.month,
            DashboardCell.area_kind,
            DashboardCell.area_code,
            DashboardCell.crime_type,
        ).limit(limit)
        return (await self._session.scalars(statement)).all()

    async def save_watchers(
        self, month: date, counted_at: datetime, areas: Sequence[AreaWatchers]
    ) -> None:
        """Keep each area's count for the month unless a later count is kept already (events
        may arrive late or twice)."""
        if not areas:
            return
        statement = insert(DashboardWatchers).values(
            [
                {
                    "month": month,
                    "area_kind": area.area_kind,
                    "area_code": area.area_code,
                    "borough_code": area.borough_code,
                    "members_watching": area.members_watching,
                    "counted_at": counted_at,
                }
                for area in sorted(areas, key=lambda a: (a.area_kind, a.area_code))
            ]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["month", "area_kind", "area_code"],
                set_={
                    "borough_code": statement.excluded.borough_code,
                    "members_watching": statement.excluded.members_watching,
                    "counted_at": statement.excluded.counted_at,
                },
                where=DashboardWatchers.counted_at < statement.excluded.counted_at,
            )
        )

    async def watchers(self, query: CellQuery) -> Sequence[DashboardWatchers]:
        """The areas' members-watching counts the query's cells are about (any crime type)."""
        statement = _areas_of(select(DashboardWatchers), DashboardWatchers, query)
        return (await self._session.scalars(statement)).all()

    async def uncounted_alerts(self, after: uuid.UUID | None, *, limit: int) -> Sequence[uuid.UUID]:
        """Published originals without a fact yet (written before the dashboard existed, or by
        a tool that bypassed the service), in id order after ``after``."""
        statement = (
            select(Alert.id)
            .outerjoin(DashboardAlertFact, DashboardAlertFact.alert_id == Alert.id)
            .where(
                Alert.msg_type == MsgType.ALERT,
                Alert.published_at.is_not(None),
                DashboardAlertFact.alert_id.is_(None),
            )
            .order_by(Alert.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(Alert.id > after)
        return (await self._session.scalars(statement)).all()

    async def months(self) -> Sequence[date]:
        """Months with any figures (alerts, or members watching counted), newest first."""
        with_alerts = (
            select(DashboardCell.month)
            .where(DashboardCell.area_kind == "london")
            .group_by(DashboardCell.month)
            .having(func.sum(DashboardCell.alerts) > 0)
        )
        with_watchers = select(DashboardWatchers.month).where(
            DashboardWatchers.area_kind == "london"
        )
        months = union(with_alerts, with_watchers).subquery()
        return (
            await self._session.scalars(select(months.c.month).order_by(months.c.month.desc()))
        ).all()
