"""Coordinator vetting: a member applies to coordinate a Neighbourhood Watch scheme; a verifier,
or an officer of a borough command whose area meets the scheme's, approves with the police
vetting reference and its expiry date, or refuses with a reason. Approval grants the
coordinator role for the scheme; once the vetting expires, ``lapse_expired`` (every replica's
maintenance loop) takes the role away again. Every decision is audited and the member is told.
Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.service import AuditLog
from services.identity.coordinators.repository import ApplicationRepository
from services.identity.coordinators.schemas import ApplicationApproval
from services.identity.dependencies import Caller
from services.identity.errors import NotPermittedError, RecordNotFoundError, StateConflictError
from services.identity.members.repository import MemberRepository
from services.identity.models import (
    ApplicationStatus,
    CoordinatorApplication,
    Member,
    Organisation,
    OrganisationKind,
    Role,
)
from services.identity.notices import request_notice
from services.identity.organisations.repository import OrganisationRepository
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)

LAPSE_BATCH = 100


class CoordinatorService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._applications = ApplicationRepository(session)
        self._organisations = OrganisationRepository(session)
        self._members = MemberRepository(session)
        self._audit = AuditLog(session)

    async def apply(
        self, member: Member, scheme_id: uuid.UUID, statement: str
    ) -> CoordinatorApplication:
        await self._scheme(scheme_id)
        application = await self._applications.insert_if_none_open(
            member_id=member.id, scheme_id=scheme_id, statement=statement
        )
        if application is None:
            raise StateConflictError("You have an open application for this scheme already.")
        log.info("identity.coordinator.applied", member_id=str(member.id))
        return application

    async def of_member(self, member_id: uuid.UUID) -> Sequence[CoordinatorApplication]:
        return await self._applications.for_member(member_id)

    async def for_review(
        self, caller: Caller, application_id: uuid.UUID
    ) -> tuple[CoordinatorApplication, str]:
        """An application and the applicant's pseudonym, for whoever may decide on it."""
        application = await self._applications.get(application_id)
        if application is None:
            raise RecordNotFoundError("There is no application with that id.")
        scheme = await self._scheme(application.scheme_id)
        if not caller.has_any_role(Role.VERIFIER) and not await self._covers(caller, scheme):
            raise NotPermittedError("Only an officer of a borough the scheme covers may see it.")
        member = await self._members.get(application.member_id)
        assert member is not None, "applications cascade with their member"
        return application, member.pseudonym

    async def approve(
        self, caller: Caller, application_id: uuid.UUID, body: ApplicationApproval
    ) -> CoordinatorApplication:
        application, scheme = await self._decidable(caller, application_id)
        if body.vetting_expires_on <= utcnow().date():
            raise StateConflictError("The vetting must still be valid after today.")
        member = await self._members.get(application.member_id)
        assert member is not None, "applications cascade with their member"
        if member.organisation_id not in (None, scheme.id):
            raise StateConflictError(
                "This member acts for another organisation; an admin must move them first."
            )
        now = utcnow()
        application.status = ApplicationStatus.APPROVED.value
        application.decided_by = caller.member.id
        application.decided_at = now
        application.vetting_reference = body.vetting_reference
        application.vetting_expires_on = body.vetting_expires_on
        member.roles = sorted({*member.roles, Role.COORDINATOR.value})
        member.organisation_id = scheme.id
        await self._session.flush()
        await self._audit.record(
            "coordinator.approved",
            actor_id=caller.member.id,
            subject=f"member:{member.id}",
            details={
                "application_id": str(application.id),
                "scheme_id": str(scheme.id),
                "vetting_reference": body.vetting_reference,
                "vetting_expires_on": body.vetting_expires_on.isoformat(),
            },
        )
        await request_notice(
            self._session,
            member.id,
            kind="coordinator_approved",
            subject=f"You now coordinate {scheme.name}",
            body=(
                f"Your application to coordinate {scheme.name} was approved. Your vetting is "
                f"valid until {body.vetting_expires_on.isoformat()}. Sign in again to use your "
                "coordinator rights."
            ),
        )
        log.info("identity.coordinator.approved", member_id=str(member.id))
        return application

    async def refuse(
        self, caller: Caller, application_id: uuid.UUID, reason: str
    ) -> CoordinatorApplication:
        application, scheme = await self._decidable(caller, application_id)
        application.status = ApplicationStatus.REFUSED.value
        application.decided_by = caller.member.id
        application.decided_at = utcnow()
        application.refusal_reason = reason
        await self._session.flush()
        await self._audit.record(
            "coordinator.refused",
            actor_id=caller.member.id,
            subject=f"member:{application.member_id}",
            details={"application_id": str(application.id), "reason": reason},
        )
        await request_notice(
            self._session,
            application.member_id,
            kind="coordinator_refused",
            subject=f"Your application to coordinate {scheme.name}",
            body=f"Your application to coordinate {scheme.name} was not approved: {reason}",
        )
        return application

    async def lapse_expired(self, today: date) -> int:
        """Lapse one batch of expired vettings; returns how many (call again while > 0)."""
        lapsed = await self._applications.claim_lapsed(today, LAPSE_BATCH)
        for application in lapsed:
            await self._lapse(application)
        return len(lapsed)

    async def _lapse(self, application: CoordinatorApplication) -> None:
        application.status = ApplicationStatus.LAPSED.value
        application.lapsed_at = utcnow()
        member = await self._members.get(application.member_id)
        assert member is not None, "applications cascade with their member"
        if await self._applications.other_approved(member.id, application.id) is None:
            remaining = [role for role in member.roles if role != Role.COORDINATOR.value]
            member.roles = remaining or [Role.RESIDENT.value]
        if member.organisation_id == application.scheme_id:
            member.organisation_id = None
        await self._session.flush()
        await self._audit.record(
            "coordinator.lapsed",
            actor_id=None,
            subject=f"member:{member.id}",
            details={
                "application_id": str(application.id),
                "scheme_id": str(application.scheme_id),
                "vetting_expires_on": (
                    application.vetting_expires_on.isoformat()
                    if application.vetting_expires_on
                    else None
                ),
            },
        )
        await request_notice(
            self._session,
            member.id,
            kind="coordinator_lapsed",
            subject="Your coordinator rights have lapsed",
            body=(
                "Your police vetting has expired, so your coordinator rights have lapsed. "
                "Apply again once your vetting is renewed."
            ),
        )
        log.info("identity.coordinator.lapsed", member_id=str(member.id))

    async def _scheme(self, scheme_id: uuid.UUID) -> Organisation:
        scheme = await self._organisations.get(scheme_id)
        if scheme is None or scheme.kind != OrganisationKind.NW_SCHEME.value:
            raise RecordNotFoundError("There is no Neighbourhood Watch scheme with that id.")
        return scheme

    async def _decidable(
        self, caller: Caller, application_id: uuid.UUID
    ) -> tuple[CoordinatorApplication, Organisation]:
        application = await self._applications.get_for_update(application_id)
        if application is None:
            raise RecordNotFoundError("There is no application with that id.")
        scheme = await self._scheme(application.scheme_id)
        if application.member_id == caller.member.id:
            raise NotPermittedError("Someone else must decide on your own application.")
        if not caller.has_any_role(Role.VERIFIER) and not await self._covers(caller, scheme):
            raise NotPermittedError("Only an officer of a borough the scheme covers may decide.")
        if application.status != ApplicationStatus.PENDING.value:
            raise StateConflictError(f"This application is {application.status} already.")
        return application, scheme

    async def _covers(self, caller: Caller, scheme: Organisation) -> bool:
        if caller.member.organisation_id is None:
            return False
        command = await self._organisations.get(caller.member.organisation_id)
        return (
            command is not None
            and command.kind == OrganisationKind.BOROUGH_COMMAND.value
            and bool(set(command.ward_codes) & set(scheme.ward_codes))
        )

    async def officer_area(self, caller: Caller) -> list[str] | None:
        """The wards whose schemes this caller decides on; None: all (verifiers)."""
        if caller.has_any_role(Role.VERIFIER):
            return None
        if caller.member.organisation_id is None:
            return []
        command = await self._organisations.get(caller.member.organisation_id)
        if command is None or command.kind != OrganisationKind.BOROUGH_COMMAND.value:
            return []
        return list(command.ward_codes)

    async def pending_applications(
        self, area: list[str] | None, limit: int
    ) -> Sequence[tuple[CoordinatorApplication, str]]:
        return await self._applications.pending(ward_codes=area, limit=limit)
