"""Every SQL statement about members and their email verifications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import EmailVerification, Member

# Members per multi-row INSERT: about ten parameters each, under PostgreSQL's 32,767.
MEMBER_CHUNK = 2000


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_if_free(
        self,
        *,
        email_index: str,
        email_encrypted: bytes,
        password_hash: str,
        pseudonym: str,
        roles: list[str],
        email_verified_at: datetime | None,
        organisation_id: uuid.UUID | None = None,
        totp_exempt: bool = False,
    ) -> Member | None:
        """Insert a member, or return None when the email or the pseudonym is taken.

        ``ON CONFLICT DO NOTHING`` waits for a concurrent insert of the same address to
        finish, so a None here means the other row is committed and can be read.
        """
        return await self._session.scalar(
            insert(Member)
            .values(
                id=uuid.uuid4(),
                email_index=email_index,
                email_encrypted=email_encrypted,
                password_hash=password_hash,
                pseudonym=pseudonym,
                roles=roles,
                email_verified_at=email_verified_at,
                organisation_id=organisation_id,
                totp_exempt=totp_exempt,
            )
            .on_conflict_do_nothing()
            .returning(Member)
        )

    async def insert_many_if_free(self, rows: Sequence[dict[str, Any]]) -> dict[str, uuid.UUID]:
        """``insert_if_free`` for many members (each row has the columns that takes): returns
        the id of each member inserted by email index, leaving out those whose address or
        pseudonym was taken."""
        inserted: dict[str, uuid.UUID] = {}
        for start in range(0, len(rows), MEMBER_CHUNK):
            result = await self._session.execute(
                insert(Member)
                .values([{"id": uuid.uuid4(), **row} for row in rows[start : start + MEMBER_CHUNK]])
                .on_conflict_do_nothing()
                .returning(Member.email_index, Member.id)
            )
            inserted.update({index: member_id for index, member_id in result})
        return inserted

    async def ids_by_email_index(self, email_indexes: Sequence[str]) -> dict[str, uuid.UUID]:
        found: dict[str, uuid.UUID] = {}
        for start in range(0, len(email_indexes), MEMBER_CHUNK):
            result = await self._session.execute(
                select(Member.email_index, Member.id).where(
                    Member.email_index.in_(email_indexes[start : start + MEMBER_CHUNK])
                )
            )
            found.update({index: member_id for index, member_id in result})
        return found

    async def get(self, member_id: uuid.UUID) -> Member | None:
        return await self._session.get(Member, member_id)

    async def get_by_email_index(self, email_index: str) -> Member | None:
        return await self._session.scalar(select(Member).where(Member.email_index == email_index))

    async def mark_verified(
        self, member_id: uuid.UUID, *, password_hash: str, at: datetime
    ) -> Member | None:
        """Verify the member unless already verified; only the first caller gets the row back,
        even when two links for the same member are used at once."""
        return await self._session.scalar(
            update(Member)
            .where(Member.id == member_id, Member.email_verified_at.is_(None))
            .values(email_verified_at=at, password_hash=password_hash)
            .returning(Member)
            .execution_options(synchronize_session=False, populate_existing=True)
        )

    async def set_password_hash(self, member: Member, password_hash: str) -> None:
        member.password_hash = password_hash
        await self._session.flush()


class EmailVerificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, member_id: uuid.UUID, token_hash: str, password_hash: str, expires_at: datetime
    ) -> EmailVerification:
        verification = EmailVerification(
            member_id=member_id,
            token_hash=token_hash,
            password_hash=password_hash,
            expires_at=expires_at,
        )
        self._session.add(verification)
        await self._session.flush()
        return verification

    async def get_for_update(self, token_hash: str) -> EmailVerification | None:
        """Lock the link's row so two clicks at once are handled one after the other."""
        return await self._session.scalar(
            select(EmailVerification)
            .where(EmailVerification.token_hash == token_hash)
            .with_for_update()
        )

    async def mark_used(self, verification: EmailVerification, at: datetime) -> None:
        verification.used_at = at
        await self._session.flush()
