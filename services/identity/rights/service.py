"""Data rights: a member's export and erasure. Flushes, never commits.

Erasure deletes the member's row; refresh tokens, verification and reset links, recovery
codes, address verifications, uploaded documents, identity checks, coordinator applications and
reveal requests go with it (foreign keys cascade), and so do the member's events still in the
outbox (which carry their email or address). What remains is the member id inside audit
entries, which hold no personal data, and ``member.erased`` tells every other service to delete
theirs. Accounts never verified are purged the same way after
``IDENTITY_UNVERIFIED_PURGE_AFTER_H``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.service import AuditLog
from services.identity.config import IdentitySettings
from services.identity.coordinators.repository import ApplicationRepository
from services.identity.crypto import PersonalData
from services.identity.errors import InvalidCredentialsError, MemberNotFoundError
from services.identity.members.service import MemberService
from services.identity.models import Member, OutboxMessage
from services.identity.passwords import verify_password
from services.identity.rights.repository import DataRightsRepository
from services.identity.rights.schemas import (
    ExportedAddress,
    ExportedAddressVerification,
    ExportedAuditEntry,
    ExportedCoordinatorApplication,
    ExportedIdentityCheck,
    ExportedMember,
    ExportedSession,
    MemberExport,
)
from services.identity.verification.repository import VerificationRepository
from services.identity.verification.service import address_of
from shared.db import utcnow
from shared.events import MemberErased, MemberExportRequested
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "identity"
MAX_EXPORTED_ROWS = 1000
PURGE_BATCH = 100


class DataRightsService:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._session = session
        self._rights = DataRightsRepository(session)
        self._members = MemberService(session, settings)
        self._personal = PersonalData.from_settings(settings)
        self._audit = AuditLog(session)

    async def export(self, member: Member) -> MemberExport:
        export_id = uuid.uuid4()
        sessions = await self._rights.sessions_of(member.id, limit=MAX_EXPORTED_ROWS)
        entries = await self._rights.audit_entries_about(
            f"member:{member.id}", limit=MAX_EXPORTED_ROWS
        )
        verifications = VerificationRepository(self._session)
        address_attempts = await verifications.for_member(member.id)
        identity_checks = await verifications.identity_checks_for(member.id)
        applications = await ApplicationRepository(self._session).for_member(member.id)
        details = self._members.personal_details_of(member)
        address = address_of(self._personal, member)
        await add_event(
            self._session,
            OutboxMessage,
            MemberExportRequested(member_id=member.id, export_id=export_id),
            producer=PRODUCER,
        )
        log.info("identity.member.exported", member_id=str(member.id), export_id=str(export_id))
        return MemberExport(
            export_id=export_id,
            generated_at=utcnow(),
            member=ExportedMember(
                id=member.id,
                pseudonym=member.pseudonym,
                email=self._members.email_of(member),
                roles=member.roles,
                organisation_id=member.organisation_id,
                verification_level=member.verification_level,
                created_at=member.created_at,
                email_verified_at=member.email_verified_at,
                suspended_at=member.suspended_at,
                two_factor_enabled=member.totp_enabled_at is not None,
                name=details.name,
                phone=details.phone,
                address=ExportedAddress.model_validate(address) if address else None,
                home_ward_code=member.home_ward_code,
                address_verified_at=member.address_verified_at,
                identity_verified_at=member.identity_verified_at,
            ),
            address_verifications=[
                ExportedAddressVerification.model_validate(attempt) for attempt in address_attempts
            ],
            identity_checks=[ExportedIdentityCheck.model_validate(c) for c in identity_checks],
            coordinator_applications=[
                ExportedCoordinatorApplication.model_validate(a) for a in applications
            ],
            sessions=[
                ExportedSession(
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                    used_at=token.used_at,
                    revoked_at=token.revoked_at,
                )
                for token in sessions
            ],
            audit_entries=[
                ExportedAuditEntry(
                    at=entry.at, action=entry.action, actor_id=entry.actor_id, details=entry.details
                )
                for entry in entries
            ],
        )

    async def erase_own(
        self, member: Member, password: str, *, keep_reply_text: bool = False
    ) -> None:
        """The member confirms with their password, so a stolen access token cannot erase."""
        if not await verify_password(member.password_hash, password):
            raise InvalidCredentialsError()
        await self._erase(
            member.id,
            actor_id=member.id,
            details={"by": "member", "keep_reply_text": keep_reply_text},
            keep_reply_text=keep_reply_text,
        )

    async def erase_by_staff(
        self, member_id: uuid.UUID, *, actor_id: uuid.UUID, reason: str
    ) -> None:
        await self._erase(member_id, actor_id=actor_id, details={"by": "staff", "reason": reason})

    async def purge_unverified(self, registered_before: datetime) -> int:
        """Erase one batch of accounts never verified; returns how many (again while > 0).
        Rows another replica is purging are skipped."""
        stale = await self._rights.unverified_for_purge(registered_before, limit=PURGE_BATCH)
        for member_id in stale:
            await self._erase(member_id, actor_id=None, details={"by": "unverified_purge"})
        return len(stale)

    async def _erase(
        self,
        member_id: uuid.UUID,
        *,
        actor_id: uuid.UUID | None,
        details: dict[str, object],
        keep_reply_text: bool = False,
    ) -> None:
        if not await self._rights.delete_member(member_id):
            raise MemberNotFoundError()
        # Member events are keyed by member id; published or not, they carry personal data
        # (an email address, a postal address) that must not outlive the member.
        await self._rights.delete_events_of(member_id)
        await add_event(
            self._session,
            OutboxMessage,
            MemberErased(member_id=member_id, keep_reply_text=keep_reply_text),
            producer=PRODUCER,
        )
        await self._audit.record(
            "member.erased", actor_id=actor_id, subject=f"member:{member_id}", details=details
        )
        log.info("identity.member.erased", member_id=str(member_id))
