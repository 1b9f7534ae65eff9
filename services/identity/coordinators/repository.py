"""Every SQL statement about coordinator applications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import (
    ApplicationStatus,
    CoordinatorApplication,
    Member,
    Organisation,
)

_OPEN = text("status IN ('pending', 'approved')")


class ApplicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_if_none_open(
        self, *, member_id: uuid.UUID, scheme_id: uuid.UUID, statement: str
    ) -> CoordinatorApplication | None:
        """None when the member has a pending or approved application for this scheme."""
        return await self._session.scalar(
            insert(CoordinatorApplication)
            .values(
                id=uuid.uuid4(),
                member_id=member_id,
                scheme_id=scheme_id,
                statement=statement,
                status=ApplicationStatus.PENDING.value,
            )
            .on_conflict_do_nothing(
                index_elements=[CoordinatorApplication.member_id, CoordinatorApplication.scheme_id],
                index_where=_OPEN,
            )
            .returning(CoordinatorApplication)
        )

    async def get(self, application_id: uuid.UUID) -> CoordinatorApplication | None:
        return await self._session.get(CoordinatorApplication, application_id)

    async def get_for_update(self, application_id: uuid.UUID) -> CoordinatorApplication | None:
        return await self._session.scalar(
            select(CoordinatorApplication)
            .where(CoordinatorApplication.id == application_id)
            .with_for_update()
        )

    async def for_member(self, member_id: uuid.UUID) -> Sequence[CoordinatorApplication]:
        return (
            await self._session.scalars(
                select(CoordinatorApplication)
                .where(CoordinatorApplication.member_id == member_id)
                .order_by(CoordinatorApplication.created_at)
            )
        ).all()

    async def pending(
        self, *, ward_codes: list[str] | None, limit: int
    ) -> Sequence[tuple[CoordinatorApplication, str]]:
        """Pending applications with the applicant's pseudonym; with ``ward_codes``, only
        those for schemes that cover one of them."""
        query = (
            select(CoordinatorApplication, Member.pseudonym)
            .join(Member, Member.id == CoordinatorApplication.member_id)
            .where(CoordinatorApplication.status == ApplicationStatus.PENDING.value)
        )
        if ward_codes is not None:
            query = query.join(
                Organisation, Organisation.id == CoordinatorApplication.scheme_id
            ).where(Organisation.ward_codes.overlap(ward_codes))
        rows = await self._session.execute(
            query.order_by(CoordinatorApplication.created_at).limit(limit)
        )
        return [(application, pseudonym) for application, pseudonym in rows]

    async def claim_lapsed(self, today: date, limit: int) -> Sequence[CoordinatorApplication]:
        """Approved applications whose vetting has expired, locked; other replicas skip them."""
        return (
            await self._session.scalars(
                select(CoordinatorApplication)
                .where(
                    CoordinatorApplication.status == ApplicationStatus.APPROVED.value,
                    CoordinatorApplication.vetting_expires_on <= today,
                )
                .order_by(CoordinatorApplication.vetting_expires_on)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()

    async def other_approved(
        self, member_id: uuid.UUID, excluding: uuid.UUID
    ) -> CoordinatorApplication | None:
        return await self._session.scalar(
            select(CoordinatorApplication)
            .where(
                CoordinatorApplication.member_id == member_id,
                CoordinatorApplication.status == ApplicationStatus.APPROVED.value,
                CoordinatorApplication.id != excluding,
            )
            .limit(1)
        )
