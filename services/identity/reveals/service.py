"""Two-person identity reveals. Flushes, never commits.

Other members and staff screens see only member ids and pseudonyms. For a police purpose an
officer asks, with a stated reason, who a member is; a second, different staff member
(officer, verifier or platform admin) approves; the requester may then read the member's
name, email, phone and address once, within ``IDENTITY_REVEAL_TTL_H``. Every step is
written to the hash-chained audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.service import AuditLog
from services.identity.config import IdentitySettings
from services.identity.crypto import NAME_PURPOSE, PHONE_PURPOSE, PersonalData
from services.identity.errors import (
    NotPermittedError,
    RecordNotFoundError,
    RevealExpiredError,
    StateConflictError,
)
from services.identity.members.repository import MemberRepository
from services.identity.models import IdentityReveal, Member, RevealStatus
from services.identity.reveals.repository import RevealRepository
from services.identity.reveals.schemas import RevealedAddress, RevealedIdentity
from services.identity.verification.service import address_of
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)


class RevealService:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._session = session
        self._settings = settings
        self._reveals = RevealRepository(session)
        self._members = MemberRepository(session)
        self._personal = PersonalData.from_settings(settings)
        self._audit = AuditLog(session)

    async def request(
        self, member_id: uuid.UUID, reason: str, *, actor_id: uuid.UUID
    ) -> tuple[IdentityReveal, Member]:
        member = await self._members.get(member_id)
        if member is None:
            raise RecordNotFoundError("There is no member with that id.")
        reveal = await self._reveals.add(
            IdentityReveal(
                member_id=member_id,
                requested_by=actor_id,
                reason=reason,
                status=RevealStatus.PENDING.value,
                requested_at=utcnow(),
            )
        )
        await self._audit.record(
            "identity_reveal.requested",
            actor_id=actor_id,
            subject=f"member:{member_id}",
            details={"reveal_id": str(reveal.id), "reason": reason},
        )
        log.info("identity.reveal.requested", reveal_id=str(reveal.id))
        return reveal, member

    async def pending(self, limit: int) -> Sequence[tuple[IdentityReveal, str]]:
        return await self._reveals.with_status(RevealStatus.PENDING.value, limit)

    async def approve(
        self, reveal_id: uuid.UUID, *, actor_id: uuid.UUID
    ) -> tuple[IdentityReveal, Member]:
        reveal = await self._reveals.get_for_update(reveal_id)
        if reveal is None:
            raise RecordNotFoundError("There is no reveal request with that id.")
        if reveal.requested_by == actor_id:
            raise NotPermittedError("A second, different staff member must approve a reveal.")
        if reveal.member_id == actor_id:
            raise NotPermittedError("You cannot approve a reveal of yourself.")
        if reveal.status != RevealStatus.PENDING.value:
            raise StateConflictError(f"This reveal is {reveal.status} already.")
        now = utcnow()
        reveal.status = RevealStatus.APPROVED.value
        reveal.approved_by = actor_id
        reveal.approved_at = now
        reveal.expires_at = now + timedelta(hours=self._settings.reveal_ttl_h)
        await self._session.flush()
        await self._audit.record(
            "identity_reveal.approved",
            actor_id=actor_id,
            subject=f"member:{reveal.member_id}",
            details={"reveal_id": str(reveal.id), "requested_by": str(reveal.requested_by)},
        )
        member = await self._members.get(reveal.member_id)
        assert member is not None, "reveals cascade with their member"
        return reveal, member

    async def disclose(self, reveal_id: uuid.UUID, *, actor_id: uuid.UUID) -> RevealedIdentity:
        reveal = await self._reveals.get_for_update(reveal_id)
        if reveal is None or reveal.requested_by != actor_id:
            raise RecordNotFoundError("You have no reveal request with that id.")
        if reveal.status == RevealStatus.PENDING.value:
            raise StateConflictError("A second staff member has not approved this reveal yet.")
        now = utcnow()
        if (
            reveal.status != RevealStatus.APPROVED.value
            or reveal.expires_at is None
            or reveal.expires_at <= now
        ):
            raise RevealExpiredError()
        member = await self._members.get(reveal.member_id)
        assert member is not None, "reveals cascade with their member"
        reveal.status = RevealStatus.READ.value
        reveal.read_at = now
        await self._session.flush()
        await self._audit.record(
            "identity_reveal.read",
            actor_id=actor_id,
            subject=f"member:{member.id}",
            details={"reveal_id": str(reveal.id)},
        )
        log.info("identity.reveal.read", reveal_id=str(reveal.id))
        address = address_of(self._personal, member)
        return RevealedIdentity(
            member_id=member.id,
            pseudonym=member.pseudonym,
            name=(
                self._personal.open_text(member.name_encrypted, purpose=NAME_PURPOSE)
                if member.name_encrypted
                else None
            ),
            email=self._personal.open_email(member.email_encrypted),
            phone=(
                self._personal.open_text(member.phone_encrypted, purpose=PHONE_PURPOSE)
                if member.phone_encrypted
                else None
            ),
            address=RevealedAddress.model_validate(address) if address else None,
        )
