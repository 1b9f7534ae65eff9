"""Staff actions on members: roles and organisation, suspension (platform and org admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from services.identity.dependencies import MemberAdminDep
from services.identity.models import Member
from services.identity.staff.schemas import MemberAccess, RolesUpdate, SuspensionCreate
from services.identity.staff.service import StaffService
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["staff"])


def _access(member: Member) -> MemberAccess:
    return MemberAccess(
        member_id=member.id,
        pseudonym=member.pseudonym,
        roles=member.roles,
        organisation_id=member.organisation_id,
        verification_level=member.verification_level,
        suspended_at=member.suspended_at,
    )


@router.put(
    "/members/{member_id}/roles",
    summary="Set a member's roles and organisation (platform admins; org admins within theirs)",
    description="Takes effect at the member's next sign-in or refresh; audited.",
    responses=problem_responses(401, 403, 404, 422),
)
async def set_roles(
    member_id: uuid.UUID,
    body: Annotated[
        RolesUpdate,
        Body(
            openapi_examples=openapi_examples(
                officer={
                    "roles": ["resident", "officer"],
                    "organisation_id": "0b7f3c52-8c1e-4f7e-9d0a-2c5d3f1e6a90",
                }
            )
        ),
    ],
    caller: MemberAdminDep,
    session: SessionDep,
) -> MemberAccess:
    return _access(await StaffService(session).set_roles(caller, member_id, body))


@router.post(
    "/members/{member_id}/suspension",
    summary="Suspend a member (platform admins; org admins within theirs)",
    description=(
        "Refreshing and signing in fail at once; access tokens already issued lapse within "
        "their lifetime (at most 15 minutes) and identity refuses them at once. Publishes "
        "`member.suspended`; audited."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
async def suspend(
    member_id: uuid.UUID,
    body: Annotated[
        SuspensionCreate,
        Body(openapi_examples=openapi_examples(abuse={"reason": "Posting members' addresses"})),
    ],
    caller: MemberAdminDep,
    session: SessionDep,
) -> MemberAccess:
    return _access(await StaffService(session).suspend(caller, member_id, body.reason))


@router.delete(
    "/members/{member_id}/suspension",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Lift a suspension (platform admins; org admins within theirs)",
    responses=problem_responses(401, 403, 404, 422),
)
async def reinstate(member_id: uuid.UUID, caller: MemberAdminDep, session: SessionDep) -> Response:
    await StaffService(session).reinstate(caller, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
