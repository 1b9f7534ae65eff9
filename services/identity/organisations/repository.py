"""Every SQL statement about organisations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import Organisation
from shared.db import utcnow
from shared.pagination import KeysetCursor


class OrganisationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, organisation_id: uuid.UUID) -> Organisation | None:
        return await self._session.get(Organisation, organisation_id)

    async def get_by_code(self, code: str) -> Organisation | None:
        return await self._session.scalar(select(Organisation).where(Organisation.code == code))

    async def insert_if_free(
        self, *, kind: str, code: str, name: str, ward_codes: list[str]
    ) -> Organisation | None:
        return await self._session.scalar(
            insert(Organisation)
            .values(id=uuid.uuid4(), kind=kind, code=code, name=name, ward_codes=ward_codes)
            .on_conflict_do_nothing(index_elements=[Organisation.code])
            .returning(Organisation)
        )

    async def upsert(self, *, kind: str, code: str, name: str, ward_codes: list[str]) -> None:
        """Register or refresh an organisation by code (startup seeding from the wards file)."""
        statement = insert(Organisation).values(
            id=uuid.uuid4(), kind=kind, code=code, name=name, ward_codes=ward_codes
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[Organisation.code],
                set_={"name": name, "ward_codes": ward_codes, "updated_at": utcnow()},
                where=Organisation.ward_codes != statement.excluded.ward_codes,
            )
        )

    async def list(
        self, *, kind: str | None, limit: int, offset: int, cursor: KeysetCursor | None = None
    ) -> Sequence[Organisation]:
        query = select(Organisation).order_by(Organisation.kind, Organisation.code)
        if kind is not None:
            query = query.where(Organisation.kind == kind)
        if cursor is not None:
            query = query.where(cursor.after(Organisation.kind, Organisation.code))
        return (await self._session.scalars(query.limit(limit).offset(offset))).all()
