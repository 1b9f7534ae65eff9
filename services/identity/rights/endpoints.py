"""Data rights: a copy of everything identity holds about a member, and erasure."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from services.identity.dependencies import CallerDep, PlatformAdminDep, SettingsDep
from services.identity.rights.schemas import MemberExport, SelfErasure, StaffErasure
from services.identity.rights.service import DataRightsService
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["data rights"])


@router.get(
    "/members/me/export",
    summary="Everything identity holds about the signed-in member, as JSON",
    description="Also publishes `member.export_requested` so other services can add theirs.",
    responses=problem_responses(401, 403, 404),
)
async def export(
    caller: CallerDep, session: SessionDep, settings: SettingsDep, response: Response
) -> MemberExport:
    response.headers["Cache-Control"] = "no-store"
    return await DataRightsService(session, settings).export(caller.member)


@router.post(
    "/members/me/erasure",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase my account and personal data (confirm with the password)",
    description="Publishes `member.erased`; every service deletes what it holds. Irreversible.",
    responses=problem_responses(401, 403, 404, 422),
)
async def erase_me(
    body: Annotated[
        SelfErasure,
        Body(
            openapi_examples=openapi_examples(
                confirm={"password": "correct horse battery"},
                keep_replies={"password": "correct horse battery", "keep_reply_text": True},
            )
        ),
    ],
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    await DataRightsService(session, settings).erase_own(
        caller.member, body.password, keep_reply_text=body.keep_reply_text
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/members/{member_id}/erasure",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase a member's account and personal data (platform admins; audited)",
    responses=problem_responses(401, 403, 404, 422),
)
async def erase_member(
    member_id: uuid.UUID,
    body: Annotated[
        StaffErasure,
        Body(openapi_examples=openapi_examples(request={"reason": "Erasure request by letter"})),
    ],
    caller: PlatformAdminDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    await DataRightsService(session, settings).erase_by_staff(
        member_id, actor_id=caller.member.id, reason=body.reason
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
