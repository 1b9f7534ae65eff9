"""Identity reveals for a police purpose: requested with a reason, approved by a second staff
member, read once by the requester; every step audited."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from services.identity.dependencies import OfficerDep, RevealApproverDep, SettingsDep
from services.identity.models import IdentityReveal
from services.identity.reveals.schemas import Reveal, RevealCreate, RevealedIdentity
from services.identity.reveals.service import RevealService
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["identity reveals"])


def _reveal(reveal: IdentityReveal, pseudonym: str) -> Reveal:
    return Reveal(
        id=reveal.id,
        member_id=reveal.member_id,
        pseudonym=pseudonym,
        reason=reveal.reason,
        status=reveal.status,
        requested_by=reveal.requested_by,
        requested_at=reveal.requested_at,
        approved_by=reveal.approved_by,
        approved_at=reveal.approved_at,
        expires_at=reveal.expires_at,
    )


@router.post(
    "/identity-reveals",
    status_code=status.HTTP_201_CREATED,
    summary="Ask who a member is, for a police purpose (officers; audited)",
    description="A second, different staff member must approve before it can be read.",
    responses=problem_responses(401, 403, 404, 422),
)
async def request_reveal(
    body: Annotated[
        RevealCreate,
        Body(
            openapi_examples=openapi_examples(
                investigation={
                    "member_id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "reason": "CAD 4821/23NOV: witness to a robbery, statement needed",
                }
            )
        ),
    ],
    caller: OfficerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Reveal:
    reveal, member = await RevealService(session, settings).request(
        body.member_id, body.reason, actor_id=caller.member.id
    )
    return _reveal(reveal, member.pseudonym)


@router.get(
    "/identity-reveals",
    summary="Reveal requests waiting for a second approval (officers, verifiers, admins)",
    responses=problem_responses(401, 403, 422),
)
async def pending_reveals(
    caller: RevealApproverDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[Reveal]:
    pending = await RevealService(session, settings).pending(limit)
    return [_reveal(reveal, pseudonym) for reveal, pseudonym in pending]


@router.post(
    "/identity-reveals/{reveal_id}/approval",
    summary="Approve a reveal: the second person (officers, verifiers, admins; audited)",
    description="Never the requester. The requester may then read the identity once.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def approve_reveal(
    reveal_id: uuid.UUID, caller: RevealApproverDep, session: SessionDep, settings: SettingsDep
) -> Reveal:
    reveal, member = await RevealService(session, settings).approve(
        reveal_id, actor_id=caller.member.id
    )
    return _reveal(reveal, member.pseudonym)


@router.post(
    "/identity-reveals/{reveal_id}/disclosure",
    summary="Read the revealed identity, once (the requesting officer; audited)",
    description=(
        "Name, email, phone and address. Works once, and only within "
        "`IDENTITY_REVEAL_TTL_H` of the approval (410 afterwards)."
    ),
    responses=problem_responses(401, 403, 404, 409, 410, 422),
)
async def disclose(
    reveal_id: uuid.UUID,
    caller: OfficerDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> RevealedIdentity:
    response.headers["Cache-Control"] = "no-store"
    return await RevealService(session, settings).disclose(reveal_id, actor_id=caller.member.id)
