"""Every SQL statement of audience resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import AlertAudience, AlertRecipientSet
from services.geo.targeting.cells import TargetCells

AnyRow = Row[*tuple[Any, ...]]

# DISTINCT, sorted and packed 16 bytes per member on the server: one row comes back however
# large the audience, and Python never holds a million UUID objects.
_WARD_PATH = text(
    """
    SELECT count(*) AS recipients,
           coalesce(string_agg(uuid_send(member_id), ''::bytea ORDER BY member_id), ''::bytea)
               AS packed
    FROM (
        SELECT member_id FROM watched_wards
        WHERE ward_code = ANY(CAST(:named AS varchar[]))
          AND min_severity <= :rank
          AND (categories_mask IS NULL OR (categories_mask & :category_bit) <> 0)
        UNION
        SELECT member_id FROM watched_wards
        WHERE ward_code = ANY(CAST(:touched AS varchar[]))
          AND NOT by_geometry
          AND min_severity <= :rank
          AND (categories_mask IS NULL OR (categories_mask & :category_bit) <> 0)
    ) AS audience
    """
)

# Stored cells under each target cell (a key range) and above it (exact ancestors); a pair is
# certain when both cells are interior to their areas, otherwise a candidate for the exact
# test. The candidates' shapes are read by a second statement: joined here, the planner
# (misled by the cell statistics) hashes the whole subscriptions table.
_CELL_PATH = text(
    """
    WITH target AS (
        SELECT * FROM unnest(
            CAST(:first AS bigint[]), CAST(:last AS bigint[]), CAST(:interior AS boolean[])
        ) AS t(first, last, interior)
    ),
    above AS (
        SELECT * FROM unnest(
            CAST(:a_key AS bigint[]), CAST(:a_res AS smallint[]), CAST(:a_interior AS boolean[])
        ) AS a(key, res, interior)
    ),
    hits AS (
        SELECT c.subscription_id, c.member_id, c.interior AND t.interior AS sure
        FROM target t JOIN area_cells c ON c.key BETWEEN t.first AND t.last
        WHERE c.min_severity <= :rank
          AND (c.categories_mask IS NULL OR (c.categories_mask & :category_bit) <> 0)
        UNION ALL
        SELECT c.subscription_id, c.member_id, c.interior AND a.interior
        FROM above a JOIN area_cells c ON c.key = a.key AND c.res = a.res
        WHERE c.min_severity <= :rank
          AND (c.categories_mask IS NULL OR (c.categories_mask & :category_bit) <> 0)
    ),
    matched AS (
        SELECT subscription_id, member_id, bool_or(sure) AS sure
        FROM hits GROUP BY subscription_id, member_id
    )
    SELECT subscription_id, member_id, sure FROM matched
    """
)

# Distinct (ward, member) pairs from three index scans: named wards, wards only touched by a
# drawn target (ward-shaped areas), and the drawn areas the cell path matched.
_BREAKDOWN = text(
    """
    SELECT ward_code, count(*) AS recipients
    FROM (
        SELECT ward_code, member_id FROM watched_wards
        WHERE ward_code = ANY(CAST(:named AS varchar[]))
          AND min_severity <= :rank
          AND (categories_mask IS NULL OR (categories_mask & :category_bit) <> 0)
        UNION
        SELECT ward_code, member_id FROM watched_wards
        WHERE ward_code = ANY(CAST(:touched AS varchar[]))
          AND NOT by_geometry
          AND min_severity <= :rank
          AND (categories_mask IS NULL OR (categories_mask & :category_bit) <> 0)
        UNION
        SELECT ward_code, member_id FROM watched_wards
        WHERE subscription_id = ANY(CAST(:matched AS uuid[]))
          AND ward_code = ANY(CAST(:touched AS varchar[]))
    ) AS pairs
    GROUP BY ward_code
    """
)

# Sorting and de-duplicating a London-wide audience (millions of rows) should stay in memory.
_LARGE_WORK_MEM = text("SET LOCAL work_mem = '256MB'")


async def ward_path_members(
    session: AsyncSession,
    *,
    wards: Sequence[str],
    named: Sequence[str],
    rank: int,
    category_bit: int,
) -> tuple[int, bytes]:
    """(count, packed sorted member ids) of members with a watched area in ``wards``: any
    area of a ward kind, circles and polygons only for the ``named`` wards (targeted by code
    or borough; for drawn targets their cells decide).

    Two index scans with array keys (named wards, then the wards only touched), UNIONed:
    a per-row "is this ward named" array test would cost |named| comparisons for each of
    millions of rows when all of London is targeted."""
    if not wards:
        return 0, b""
    named_set = set(named)
    await session.execute(_LARGE_WORK_MEM)
    row = (
        await session.execute(
            _WARD_PATH,
            {
                "named": sorted(named_set),
                "touched": sorted(set(wards) - named_set),
                "rank": rank,
                "category_bit": category_bit,
            },
        )
    ).one()
    return int(row.recipients), bytes(row.packed)


async def cell_candidates(
    session: AsyncSession, cells: TargetCells, *, rank: int, category_bit: int
) -> Sequence[AnyRow]:
    if not cells:
        return []
    return (
        await session.execute(
            _CELL_PATH,
            {
                "first": cells.range_first,
                "last": cells.range_last,
                "interior": cells.range_interior,
                "a_key": cells.ancestor_key,
                "a_res": cells.ancestor_res,
                "a_interior": cells.ancestor_interior,
                "rank": rank,
                "category_bit": category_bit,
            },
        )
    ).all()


_AREAS = text(
    """
    SELECT id, kind, center_lat, center_lon, radius_m, geometry
    FROM subscriptions WHERE id = ANY(CAST(:ids AS uuid[]))
    """
)


async def areas(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AnyRow]:
    """The shapes of the uncertain candidates (primary-key lookups)."""
    if not ids:
        return {}
    rows = await session.execute(_AREAS, {"ids": list(ids)})
    return {row.id: row for row in rows}


async def ward_breakdown(
    session: AsyncSession,
    *,
    wards: Sequence[str],
    named: Sequence[str],
    matched: Sequence[uuid.UUID],
    rank: int,
    category_bit: int,
) -> dict[str, int]:
    if not wards:
        return {}
    named_set = set(named)
    rows = await session.execute(
        _BREAKDOWN,
        {
            "named": sorted(named_set),
            "touched": sorted(set(wards) - named_set),
            "matched": list(matched),
            "rank": rank,
            "category_bit": category_bit,
        },
    )
    return {code: int(count) for code, count in rows}


async def recipient_set(session: AsyncSession, alert_id: uuid.UUID) -> AlertRecipientSet | None:
    row: AlertRecipientSet | None = await session.scalar(
        select(AlertRecipientSet).where(AlertRecipientSet.alert_id == alert_id)
    )
    return row


async def save_recipient_set(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    boundary_set_id: uuid.UUID | None,
    members: bytes,
    recipient_count: int,
) -> None:
    """Keep (or replace, when an alert is published afresh) the alert's recipients."""
    values = {
        "boundary_set_id": boundary_set_id,
        "members": members,
        "recipient_count": recipient_count,
    }
    statement = insert(AlertRecipientSet).values(alert_id=alert_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["alert_id"],
            set_={**values, "resolved_at": statement.excluded.resolved_at},
        )
    )


async def add_audience(session: AsyncSession, audience: AlertAudience) -> None:
    session.add(audience)
    await session.flush()
