"""Every SQL statement of audience resolution.

Members appear in the resolution indexes by their 4-byte number (``member_numbers``): the
index rows of an audience come back as one packed array of big-endian numbers, unsorted and
with repeats, and numpy de-duplicates them (a bitmap) far faster than the server can hash
and sort the same rows by 16-byte UUID."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Row, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import AlertAudience, AlertRecipientSet
from services.geo.targeting.cells import TargetCells

AnyRow = Row[*tuple[Any, ...]]

_FILTERS = """
    min_severity <= :rank
    AND (categories_mask IS NULL OR (categories_mask & :category_bit) <> 0)
"""
_CELL_FILTERS = """
    c.min_severity <= :rank
    AND (c.categories_mask IS NULL OR (c.categories_mask & :category_bit) <> 0)
"""

# Two index-only scans with array keys (named wards, then the wards only touched): a per-row
# "is this ward named" array test would cost |named| comparisons for each of millions of rows
# when all of London is targeted. UNION ALL: the caller de-duplicates.
# Composed only of the constant fragments above (no input): hence the S608 exemptions.
_WARD_ROWS = f"""
    SELECT ward_code, member_no FROM watched_wards
    WHERE ward_code = ANY(CAST(:named AS varchar[])) AND {_FILTERS}
    UNION ALL
    SELECT ward_code, member_no FROM watched_wards
    WHERE ward_code = ANY(CAST(:touched AS varchar[])) AND NOT by_geometry AND {_FILTERS}
"""  # noqa: S608

_WARD_PATH = text(
    f"""
    SELECT coalesce(string_agg(int4send(member_no), ''::bytea), ''::bytea) AS numbers
    FROM ({_WARD_ROWS}) AS audience
    """  # noqa: S608
)

# The preview's per-ward breakdown in the same pass: the ward path's rows, plus those of the
# drawn areas the cell path matched in the touched wards, grouped by ward.
_WARD_PATH_BY_WARD = text(
    f"""
    SELECT ward_code, string_agg(int4send(member_no), ''::bytea) AS numbers
    FROM (
        {_WARD_ROWS}
        UNION ALL
        SELECT ward_code, member_no FROM watched_wards
        WHERE subscription_id = ANY(CAST(:matched AS uuid[]))
          AND ward_code = ANY(CAST(:touched AS varchar[]))
    ) AS pairs
    GROUP BY ward_code
    """  # noqa: S608
)

# Stored cells under each target cell (a key range) and above it (exact ancestors), read from
# the covering index alone; a pair is certain when both cells are interior to their areas,
# otherwise a candidate for the exact test, for which circles carry their centre and radius.
_CELL_PATH = text(
    f"""
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
        SELECT c.subscription_id, c.member_no, c.interior AND t.interior AS sure,
               c.center_lat, c.center_lon, c.radius_m
        FROM target t JOIN area_cells c ON c.key BETWEEN t.first AND t.last
        WHERE {_CELL_FILTERS}
        UNION ALL
        SELECT c.subscription_id, c.member_no, c.interior AND a.interior,
               c.center_lat, c.center_lon, c.radius_m
        FROM above a JOIN area_cells c ON c.key = a.key AND c.res = a.res
        WHERE {_CELL_FILTERS}
    )
    SELECT coalesce(string_agg(uuid_send(subscription_id), ''::bytea), ''::bytea) AS ids,
           coalesce(string_agg(int4send(member_no), ''::bytea), ''::bytea) AS numbers,
           coalesce(string_agg(boolsend(sure), ''::bytea), ''::bytea) AS sure,
           coalesce(string_agg(float8send(lat), ''::bytea), ''::bytea) AS lats,
           coalesce(string_agg(float8send(lon), ''::bytea), ''::bytea) AS lons,
           coalesce(string_agg(float8send(radius), ''::bytea), ''::bytea) AS radii
    FROM (
        SELECT subscription_id, min(member_no) AS member_no, bool_or(sure) AS sure,
               coalesce(min(center_lat), 'NaN') AS lat, coalesce(min(center_lon), 'NaN') AS lon,
               coalesce(min(radius_m), 'NaN') AS radius
        FROM hits GROUP BY subscription_id
    ) AS matched
    """  # noqa: S608
)

_SERIAL = text("SET LOCAL max_parallel_workers_per_gather = 0")
_PARALLEL_AGAIN = text("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")

_POLYGONS = text("SELECT id, geometry FROM subscriptions WHERE id = ANY(CAST(:ids AS uuid[]))")

_ALL_MEMBER_NUMBERS = text(
    """
    SELECT coalesce(string_agg(int4send(member_no), ''::bytea), ''::bytea) AS numbers,
           coalesce(string_agg(uuid_send(member_id), ''::bytea), ''::bytea) AS ids
    FROM member_numbers
    """
)
_SOME_MEMBER_NUMBERS = text(
    """
    SELECT coalesce(string_agg(int4send(member_no), ''::bytea), ''::bytea) AS numbers,
           coalesce(string_agg(uuid_send(member_id), ''::bytea), ''::bytea) AS ids
    FROM member_numbers WHERE member_no = ANY(CAST(:numbers AS integer[]))
    """
)
_DATABASE = text(
    "SELECT oid FROM pg_database WHERE datname = current_database()",
)

# Staging a fan-out's batches: envelopes already serialised (see service.stage_batches).
_STAGE = text(
    """
    INSERT INTO outbox (event_id, topic, key, envelope, created_at)
    SELECT e, t, k, CAST(v AS jsonb), now()
    FROM unnest(
        CAST(:event_ids AS uuid[]), CAST(:topics AS varchar[]), CAST(:keys AS varchar[]),
        CAST(:envelopes AS text[])
    ) AS rows(e, t, k, v)
    """
)

# De-duplicating a London-wide audience's numbers is numpy's; the aggregate of 4 million
# rows still wants room.
_LARGE_WORK_MEM = text("SET LOCAL work_mem = '256MB'")


@dataclass(frozen=True)
class CellCandidates:
    """One entry per matched subscription: its id (16 bytes each), member number, whether a
    shared cell is interior to both areas, and a circle's centre and radius (NaN for a
    polygon)."""

    subscription_ids: bytes
    numbers: npt.NDArray[np.int32]
    sure: npt.NDArray[np.bool_]
    lats: npt.NDArray[np.float64]
    lons: npt.NDArray[np.float64]
    radii: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> CellCandidates:
        return cls(
            b"",
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=bool),
            *(np.zeros(0) for _ in range(3)),
        )

    def subscription_id(self, index: int) -> uuid.UUID:
        return uuid.UUID(bytes=self.subscription_ids[16 * index : 16 * index + 16])


@dataclass(frozen=True)
class WardRows:
    """The member numbers (big-endian int32, with repeats) of one ward's matching rows."""

    ward_code: str
    numbers: bytes


class AudienceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ward_path_numbers(
        self, *, named: Sequence[str], touched: Sequence[str], rank: int, category_bit: int
    ) -> bytes:
        """Member numbers (big-endian int32, unsorted, with repeats) of the watched areas in
        the ``named`` wards (any kind) and the ``touched`` ones (ward kinds only: for drawn
        targets the cells decide circles and polygons)."""
        if not named and not touched:
            return b""
        await self._session.execute(_LARGE_WORK_MEM)
        numbers = await self._session.scalar(
            _WARD_PATH,
            {
                "named": list(named),
                "touched": list(touched),
                "rank": rank,
                "category_bit": category_bit,
            },
        )
        return bytes(numbers or b"")

    async def ward_path_numbers_by_ward(
        self,
        *,
        named: Sequence[str],
        touched: Sequence[str],
        matched: Sequence[uuid.UUID],
        rank: int,
        category_bit: int,
    ) -> list[WardRows]:
        if not named and not touched:
            return []
        rows = await self._session.execute(
            _WARD_PATH_BY_WARD,
            {
                "named": list(named),
                "touched": list(touched),
                "matched": list(matched),
                "rank": rank,
                "category_bit": category_bit,
            },
        )
        return [WardRows(code, bytes(numbers)) for code, numbers in rows]

    async def cell_candidates(
        self, cells: TargetCells, *, rank: int, category_bit: int
    ) -> CellCandidates:
        """The subscriptions whose cells meet ``cells``, once each, as packed columns."""
        if not cells:
            return CellCandidates.empty()
        # The range join misleads the row estimate (a million instead of thousands) into a
        # parallel plan whose workers cost more to start than the whole scan.
        await self._session.execute(_SERIAL)
        row = (
            await self._session.execute(
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
        ).one()
        await self._session.execute(_PARALLEL_AGAIN)
        return CellCandidates(
            subscription_ids=bytes(row.ids),
            numbers=np.frombuffer(row.numbers, dtype=">i4"),
            sure=np.frombuffer(row.sure, dtype=bool),
            lats=np.frombuffer(row.lats, dtype=">f8"),
            lons=np.frombuffer(row.lons, dtype=">f8"),
            radii=np.frombuffer(row.radii, dtype=">f8"),
        )

    async def polygon_geometries(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The GeoJSON of the uncertain candidate polygons (primary-key lookups)."""
        if not ids:
            return {}
        rows = await self._session.execute(_POLYGONS, {"ids": list(ids)})
        return {row.id: row.geometry for row in rows}

    async def database_oid(self) -> int:
        return int(await self._session.scalar(_DATABASE) or 0)

    async def member_ids(self, numbers: Sequence[int] | None) -> tuple[bytes, bytes]:
        """(numbers as big-endian int32, ids 16 bytes each), pairwise, of ``numbers`` (all
        members when None)."""
        if numbers is None:
            row = (await self._session.execute(_ALL_MEMBER_NUMBERS)).one()
        else:
            row = (
                await self._session.execute(_SOME_MEMBER_NUMBERS, {"numbers": list(numbers)})
            ).one()
        return bytes(row.numbers), bytes(row.ids)

    async def stage_outbox_rows(
        self,
        *,
        event_ids: Sequence[uuid.UUID],
        topics: Sequence[str],
        keys: Sequence[str],
        envelopes: Sequence[str],
    ) -> None:
        await self._session.execute(
            _STAGE,
            {
                "event_ids": list(event_ids),
                "topics": list(topics),
                "keys": list(keys),
                "envelopes": list(envelopes),
            },
        )

    async def recipient_set(self, alert_id: uuid.UUID) -> AlertRecipientSet | None:
        row: AlertRecipientSet | None = await self._session.scalar(
            select(AlertRecipientSet).where(AlertRecipientSet.alert_id == alert_id)
        )
        return row

    async def save_recipient_set(
        self,
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
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["alert_id"],
                set_={**values, "resolved_at": statement.excluded.resolved_at},
            )
        )

    async def add_audience(self, audience: AlertAudience) -> None:
        self._session.add(audience)
        await self._session.flush()
