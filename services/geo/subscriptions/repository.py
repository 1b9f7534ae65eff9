"""Every SQL statement about subscriptions and their index rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, literal, select, text, union, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import AreaCell, MemberNumber, Subscription, WardNeighbour, WatchedWard

AnyRow = Row[*tuple[Any, ...]]
INSERT_CHUNK = 5000
# Rows per multi-row INSERT of subscriptions: about ten parameters each, under PostgreSQL's
# 32,767 parameters per statement.
SUBSCRIPTION_CHUNK = 2000


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, values: dict[str, Any]) -> Subscription | None:
        """The new subscription, or None if the member already has this kind of subscription to
        this ward (also when a concurrent request added it a moment ago)."""
        statement = (
            pg_insert(Subscription)
            .values(id=uuid.uuid4(), **values)
            .on_conflict_do_nothing(
                index_elements=["member_id", "kind", "ward_code"],
                index_where=text("ward_code IS NOT NULL"),
            )
            .returning(Subscription)
        )
        row: Subscription | None = await self._session.scalar(statement)
        return row

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
        """Insert the subscriptions (each row with its ``id``); returns the ids inserted, leaving
        out those whose member already has this kind of subscription to this ward."""
        added: list[uuid.UUID] = []
        # A multi-row VALUES needs the same columns in every row: ward, circle and polygon rows
        # name different ones, so each shape goes in its own statements.
        shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
        for row in rows:
            shapes.setdefault(frozenset(row), []).append(row)
        for start, shaped in (
            (s, group)
            for group in shapes.values()
            for s in range(0, len(group), SUBSCRIPTION_CHUNK)
        ):
            statement = (
                pg_insert(Subscription)
                .values(shaped[start : start + SUBSCRIPTION_CHUNK])
                .on_conflict_do_nothing(
                    index_elements=["member_id", "kind", "ward_code"],
                    index_where=text("ward_code IS NOT NULL"),
                )
                .returning(Subscription.id)
            )
            added.extend((await self._session.scalars(statement)).all())
        return added

    async def member_numbers(self, member_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Each member's number in the resolution indexes, given on first use."""
        unique = list(dict.fromkeys(member_ids))
        for start in range(0, len(unique), INSERT_CHUNK):
            await self._session.execute(
                pg_insert(MemberNumber)
                .values([{"member_id": m} for m in unique[start : start + INSERT_CHUNK]])
                .on_conflict_do_nothing(index_elements=["member_id"])
            )
        numbers: dict[uuid.UUID, int] = {}
        for start in range(0, len(unique), INSERT_CHUNK):
            rows = await self._session.execute(
                select(MemberNumber.member_id, MemberNumber.member_no).where(
                    MemberNumber.member_id.in_(unique[start : start + INSERT_CHUNK])
                )
            )
            numbers.update({member_id: int(number) for member_id, number in rows})
        return numbers

    async def count_for_members(self, member_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        counts: dict[uuid.UUID, int] = {}
        for start in range(0, len(member_ids), INSERT_CHUNK):
            rows = await self._session.execute(
                select(Subscription.member_id, func.count())
                .where(Subscription.member_id.in_(member_ids[start : start + INSERT_CHUNK]))
                .group_by(Subscription.member_id)
            )
            counts.update({member_id: int(count) for member_id, count in rows})
        return counts

    async def insert_watched_wards(self, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), INSERT_CHUNK):
            await self._session.execute(
                insert(WatchedWard), list(rows[start : start + INSERT_CHUNK])
            )

    async def insert_area_cells(self, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), INSERT_CHUNK):
            await self._session.execute(insert(AreaCell), list(rows[start : start + INSERT_CHUNK]))

    async def count_for_member(self, member_id: uuid.UUID) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.member_id == member_id)
        )
        return int(count or 0)

    async def list_for_member(self, member_id: uuid.UUID) -> Sequence[Subscription]:
        return (
            await self._session.scalars(
                select(Subscription)
                .where(Subscription.member_id == member_id)
                .order_by(Subscription.created_at, Subscription.id)
            )
        ).all()

    async def get_for_member(
        self, member_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> Subscription | None:
        row: Subscription | None = await self._session.scalar(
            select(Subscription).where(
                Subscription.id == subscription_id, Subscription.member_id == member_id
            )
        )
        return row

    async def home_of(self, member_id: uuid.UUID) -> Subscription | None:
        row: Subscription | None = await self._session.scalar(
            select(Subscription).where(
                Subscription.member_id == member_id, Subscription.kind == "home"
            )
        )
        return row

    async def delete_for_member(self, member_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
        """Delete the member's own subscription (its index rows cascade); False if they have none
        with this id."""
        deleted = await self._session.scalar(
            delete(Subscription)
            .where(Subscription.id == subscription_id, Subscription.member_id == member_id)
            .returning(Subscription.id)
        )
        return deleted is not None

    async def delete_all_for_member(self, member_id: uuid.UUID) -> int:
        deleted = await self._session.scalars(
            delete(Subscription)
            .where(Subscription.member_id == member_id)
            .returning(Subscription.id)
        )
        # An erased member keeps no number either (numbers are never reused).
        await self._session.execute(delete(MemberNumber).where(MemberNumber.member_id == member_id))
        return len(deleted.all())

    async def update_filters(
        self,
        subscription_id: uuid.UUID,
        *,
        categories: list[str] | None,
        min_severity: int,
        categories_mask: int | None,
        label: str | None,
    ) -> None:
        await self._session.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id)
            .values(
                categories=categories,
                categories_mask=categories_mask,
                min_severity=min_severity,
                label=label,
            )
        )
        for model in (WatchedWard, AreaCell):
            await self._session.execute(
                update(model)
                .where(model.subscription_id == subscription_id)
                .values(min_severity=min_severity, categories_mask=categories_mask)
            )
        self._session.expire_all()

    async def delete_boundary_dependent_ward_rows(self) -> None:
        await self._session.execute(
            delete(WatchedWard).where(
                WatchedWard.subscription_id.in_(
                    select(Subscription.id).where(
                        Subscription.kind.in_(("neighbours", "circle", "polygon"))
                    )
                )
            )
        )

    async def insert_neighbour_rows(self, set_id: uuid.UUID) -> int:
        """Each neighbours subscription's own ward and its neighbours in ``set_id``; returns how
        many neighbours subscriptions there are."""
        own = (
            select(
                Subscription.id,
                Subscription.ward_code,
                Subscription.member_id,
                MemberNumber.member_no,
                literal(False),
                Subscription.min_severity,
                Subscription.categories_mask,
            )
            .join(MemberNumber, MemberNumber.member_id == Subscription.member_id)
            .where(Subscription.kind == "neighbours")
        )
        around = (
            select(
                Subscription.id,
                WardNeighbour.neighbour_code,
                Subscription.member_id,
                MemberNumber.member_no,
                literal(False),
                Subscription.min_severity,
                Subscription.categories_mask,
            )
            .join(MemberNumber, MemberNumber.member_id == Subscription.member_id)
            .join(
                WardNeighbour,
                (WardNeighbour.set_id == set_id)
                & (WardNeighbour.ward_code == Subscription.ward_code),
            )
            .where(Subscription.kind == "neighbours")
        )
        await self._session.execute(
            insert(WatchedWard).from_select(
                [
                    "subscription_id",
                    "ward_code",
                    "member_id",
                    "member_no",
                    "by_geometry",
                    "min_severity",
                    "categories_mask",
                ],
                union(own, around),
            )
        )
        count = await self._session.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.kind == "neighbours")
        )
        return int(count or 0)

    async def geometric_subscriptions(
        self, *, after: uuid.UUID | None, limit: int
    ) -> Sequence[AnyRow]:
        statement = (
            select(
                Subscription.id,
                Subscription.member_id,
                MemberNumber.member_no,
                Subscription.kind,
                Subscription.center_lat,
                Subscription.center_lon,
                Subscription.radius_m,
                Subscription.geometry,
                Subscription.min_severity,
                Subscription.categories_mask,
            )
            .join(MemberNumber, MemberNumber.member_id == Subscription.member_id)
            .where(Subscription.kind.in_(("circle", "polygon")))
            .order_by(Subscription.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(Subscription.id > after)
        return (await self._session.execute(statement)).all()
