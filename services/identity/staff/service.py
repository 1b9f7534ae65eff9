"""Staff actions on members: roles and organisation, suspension. Flushes, never commits;
every action is written to the audit log.

Platform admins may do anything here. An organisation admin acts only on members of their own
organisation (or members of none, to bring them in), only into their own organisation, and
never grants the admin roles.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.service import AuditLog
from services.identity.dependencies import Caller
from services.identity.errors import MemberNotFoundError, NotPermittedError
from services.identity.members.repository import MemberRepository
from services.identity.models import Member, OutboxMessage, Role
from services.identity.organisations.service import OrganisationService
from services.identity.staff.schemas import RolesUpdate
from services.identity.tokens.repository import RefreshTokenRepository
from shared.db import utcnow
from shared.events import MemberReinstated, MemberSuspended
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "identity"
ADMIN_ROLES = frozenset({Role.ORG_ADMIN, Role.PLATFORM_ADMIN})


class StaffService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._members = MemberRepository(session)
        self._audit = AuditLog(session)

    async def _member_for(self, caller: Caller, member_id: uuid.UUID) -> Member:
        member = await self._members.get(member_id)
        if member is None:
            raise MemberNotFoundError()
        if caller.has_any_role(Role.PLATFORM_ADMIN):
            return member
        if member.id == caller.member.id:
            raise NotPermittedError("Ask another admin to change your own access.")
        if any(role in ADMIN_ROLES for role in member.roles):
            raise NotPermittedError("Only a platform admin changes another admin's access.")
        if member.organisation_id not in (None, caller.member.organisation_id):
            raise NotPermittedError("This member belongs to another organisation.")
        return member

    async def set_roles(self, caller: Caller, member_id: uuid.UUID, body: RolesUpdate) -> Member:
        member = await self._member_for(caller, member_id)
        roles = sorted({role.value for role in body.roles})
        if body.organisation_id is not None:
            await OrganisationService(self._session).get(body.organisation_id)
        if not caller.has_any_role(Role.PLATFORM_ADMIN):
            if ADMIN_ROLES.intersection(roles):
                raise NotPermittedError("Only a platform admin grants admin roles.")
            if body.organisation_id not in (None, caller.member.organisation_id):
                raise NotPermittedError("You may only add members to your own organisation.")
        before = {"roles": member.roles, "organisation_id": _text(member.organisation_id)}
        member.roles = roles
        member.organisation_id = body.organisation_id
        await self._session.flush()
        await self._audit.record(
            "member.roles_changed",
            actor_id=caller.member.id,
            subject=f"member:{member.id}",
            details={
                "before": before,
                "after": {"roles": roles, "organisation_id": _text(body.organisation_id)},
            },
        )
        log.info("identity.member.roles_changed", member_id=str(member.id), roles=roles)
        return member

    async def suspend(self, caller: Caller, member_id: uuid.UUID, reason: str) -> Member:
        """Refresh fails at once (every refresh token is revoked and sign-in is refused);
        access tokens already issued lapse within their lifetime, and identity's own endpoints
        refuse them at once. ``member.suspended`` tells the other services."""
        member = await self._member_for(caller, member_id)
        if member.suspended:
            return member
        now = utcnow()
        member.suspended_at = now
        await self._session.flush()
        await RefreshTokenRepository(self._session).revoke_member(member.id, now)
        await add_event(
            self._session, OutboxMessage, MemberSuspended(member_id=member.id), producer=PRODUCER
        )
        await self._audit.record(
            "member.suspended",
            actor_id=caller.member.id,
            subject=f"member:{member.id}",
            details={"reason": reason},
        )
        log.info("identity.member.suspended", member_id=str(member.id))
        return member

    async def reinstate(self, caller: Caller, member_id: uuid.UUID) -> Member:
        member = await self._member_for(caller, member_id)
        if not member.suspended:
            return member
        member.suspended_at = None
        await self._session.flush()
        await add_event(
            self._session, OutboxMessage, MemberReinstated(member_id=member.id), producer=PRODUCER
        )
        await self._audit.record(
            "member.reinstated", actor_id=caller.member.id, subject=f"member:{member.id}"
        )
        log.info("identity.member.reinstated", member_id=str(member.id))
        return member


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None
