"""Every SQL statement about address verifications, uploaded documents and identity checks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import (
    AddressMethod,
    AddressVerification,
    AddressVerificationStatus,
    DocumentPurpose,
    IdentityCheck,
    Member,
    VerificationDocument,
)


class VerificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def supersede_pending(self, member_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
        """Close the member's open attempt; returns the documents it held, to delete."""
        rows = (
            await self._session.execute(
                update(AddressVerification)
                .where(
                    AddressVerification.member_id == member_id,
                    AddressVerification.status == AddressVerificationStatus.PENDING.value,
                )
                .values(status=AddressVerificationStatus.SUPERSEDED.value, decided_at=at)
                .returning(AddressVerification.document_id)
            )
        ).all()
        return [document_id for (document_id,) in rows if document_id is not None]

    async def letters_since(self, member_id: uuid.UUID, since: datetime) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(AddressVerification)
            .where(
                AddressVerification.member_id == member_id,
                AddressVerification.method == AddressMethod.LETTER.value,
                AddressVerification.created_at >= since,
            )
        )
        return count or 0

    async def add_address(self, verification: AddressVerification) -> AddressVerification:
        self._session.add(verification)
        await self._session.flush()
        return verification

    async def pending_for_member(self, member_id: uuid.UUID) -> AddressVerification | None:
        """The member's open attempt, locked: two code entries at once count as two tries."""
        return await self._session.scalar(
            select(AddressVerification)
            .where(
                AddressVerification.member_id == member_id,
                AddressVerification.status == AddressVerificationStatus.PENDING.value,
            )
            .with_for_update()
        )

    async def latest_for_member(self, member_id: uuid.UUID) -> AddressVerification | None:
        return await self._session.scalar(
            select(AddressVerification)
            .where(AddressVerification.member_id == member_id)
            .order_by(AddressVerification.created_at.desc())
            .limit(1)
        )

    async def address_for_update(self, verification_id: uuid.UUID) -> AddressVerification | None:
        return await self._session.scalar(
            select(AddressVerification)
            .where(AddressVerification.id == verification_id)
            .with_for_update()
        )

    async def get_address(self, verification_id: uuid.UUID) -> AddressVerification | None:
        return await self._session.get(AddressVerification, verification_id)

    async def for_member(self, member_id: uuid.UUID) -> Sequence[AddressVerification]:
        return (
            await self._session.scalars(
                select(AddressVerification)
                .where(AddressVerification.member_id == member_id)
                .order_by(AddressVerification.created_at)
            )
        ).all()

    async def pending_proofs(self, limit: int) -> Sequence[tuple[AddressVerification, str]]:
        rows = await self._session.execute(
            select(AddressVerification, Member.pseudonym)
            .join(Member, Member.id == AddressVerification.member_id)
            .where(
                AddressVerification.method == AddressMethod.PROOF.value,
                AddressVerification.status == AddressVerificationStatus.PENDING.value,
            )
            .order_by(AddressVerification.created_at)
            .limit(limit)
        )
        return [(verification, pseudonym) for verification, pseudonym in rows]

    async def add_document(self, document: VerificationDocument) -> VerificationDocument:
        self._session.add(document)
        await self._session.flush()
        return document

    async def get_document(self, document_id: uuid.UUID) -> VerificationDocument | None:
        return await self._session.get(VerificationDocument, document_id)

    async def delete_documents(self, document_ids: list[uuid.UUID]) -> None:
        if document_ids:
            await self._session.execute(
                delete(VerificationDocument).where(VerificationDocument.id.in_(document_ids))
            )

    async def pending_identity_documents(
        self, limit: int
    ) -> Sequence[tuple[VerificationDocument, str]]:
        rows = await self._session.execute(
            select(VerificationDocument, Member.pseudonym)
            .join(Member, Member.id == VerificationDocument.member_id)
            .where(VerificationDocument.purpose == DocumentPurpose.IDENTITY_DOCUMENT.value)
            .order_by(VerificationDocument.uploaded_at)
            .limit(limit)
        )
        return [(document, pseudonym) for document, pseudonym in rows]

    async def add_identity_check(self, check: IdentityCheck) -> IdentityCheck:
        self._session.add(check)
        await self._session.flush()
        return check

    async def identity_checks_for(self, member_id: uuid.UUID) -> Sequence[IdentityCheck]:
        return (
            await self._session.scalars(
                select(IdentityCheck)
                .where(IdentityCheck.member_id == member_id)
                .order_by(IdentityCheck.recorded_at)
            )
        ).all()
