"""Request dependencies shared by identity's domains."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from services.identity.config import IdentitySettings
from services.identity.errors import AccountSuspendedError, MemberNotFoundError
from services.identity.members.repository import MemberRepository
from services.identity.models import LEGACY_ADMIN_ROLE, Member, Role
from shared.auth import CurrentPrincipal, Principal
from shared.errors import ForbiddenError
from shared.runtime import SessionDep


def identity_settings(request: Request) -> IdentitySettings:
    settings = request.app.state.settings
    assert isinstance(settings, IdentitySettings)
    return settings


SettingsDep = Annotated[IdentitySettings, Depends(identity_settings)]


@dataclass(frozen=True)
class Caller:
    """A signed-in member as identity itself sees them: the token, checked against the row."""

    principal: Principal
    member: Member
    # What the token grants and the member still holds: a role removed since the token was
    # issued is gone at once here, and staff roles withheld for lack of TOTP stay withheld.
    roles: frozenset[str]

    def has_any_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


async def current_caller(principal: CurrentPrincipal, session: SessionDep) -> Caller:
    member = await MemberRepository(session).get(principal.member_id)
    if member is None:
        raise MemberNotFoundError()
    if member.suspended:
        raise AccountSuspendedError()
    held = set(member.roles)
    if Role.PLATFORM_ADMIN in held:
        held.add(LEGACY_ADMIN_ROLE)
    return Caller(principal=principal, member=member, roles=principal.roles & frozenset(held))


CallerDep = Annotated[Caller, Depends(current_caller)]


def caller_with_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Caller]]:
    async def dependency(caller: CallerDep) -> Caller:
        if not caller.has_any_role(*roles):
            names = ", ".join(sorted(role.value for role in roles))
            raise ForbiddenError(f"This needs one of these roles: {names}.")
        return caller

    return dependency


PlatformAdminDep = Annotated[Caller, Depends(caller_with_roles(Role.PLATFORM_ADMIN))]
MemberAdminDep = Annotated[Caller, Depends(caller_with_roles(Role.PLATFORM_ADMIN, Role.ORG_ADMIN))]
VerifierDep = Annotated[Caller, Depends(caller_with_roles(Role.VERIFIER))]
VettingDep = Annotated[Caller, Depends(caller_with_roles(Role.OFFICER, Role.VERIFIER))]
OfficerDep = Annotated[Caller, Depends(caller_with_roles(Role.OFFICER))]
RevealApproverDep = Annotated[
    Caller, Depends(caller_with_roles(Role.OFFICER, Role.VERIFIER, Role.PLATFORM_ADMIN))
]
StaffDep = Annotated[
    Caller,
    Depends(
        caller_with_roles(
            Role.PLATFORM_ADMIN,
            Role.ORG_ADMIN,
            Role.OFFICER,
            Role.VERIFIER,
            Role.COORDINATOR,
            Role.PARTNER,
        )
    ),
]
