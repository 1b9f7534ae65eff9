"""Coordinator vetting: applications to coordinate a Neighbourhood Watch scheme and their
approval (with the police vetting reference and expiry) or refusal."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, status

from services.identity.coordinators.schemas import (
    Application,
    ApplicationApproval,
    ApplicationCreate,
    ApplicationRefusal,
    ApplicationReview,
)
from services.identity.coordinators.service import CoordinatorService
from services.identity.dependencies import CallerDep, VettingDep
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["coordinator vetting"])


@router.post(
    "/coordinator-applications",
    status_code=status.HTTP_201_CREATED,
    summary="Apply to coordinate a Neighbourhood Watch scheme",
    description="An officer of a borough the scheme covers, or a verifier, decides.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def apply(
    body: Annotated[
        ApplicationCreate,
        Body(
            openapi_examples=openapi_examples(
                application={
                    "scheme_id": "0b7f3c52-8c1e-4f7e-9d0a-2c5d3f1e6a90",
                    "statement": "I have lived on Mansell Street for twelve years.",
                }
            )
        ),
    ],
    caller: CallerDep,
    session: SessionDep,
) -> Application:
    application = await CoordinatorService(session).apply(
        caller.member, body.scheme_id, body.statement
    )
    return Application.model_validate(application)


@router.get(
    "/members/me/coordinator-applications",
    summary="My applications to coordinate, and their vetting",
    responses=problem_responses(401, 403),
)
async def my_applications(caller: CallerDep, session: SessionDep) -> list[Application]:
    applications = await CoordinatorService(session).of_member(caller.member.id)
    return [Application.model_validate(application) for application in applications]


@router.get(
    "/coordinator-applications/{application_id}",
    summary="An application to read before deciding (a covering officer, or a verifier)",
    responses=problem_responses(401, 403, 404, 422),
)
async def review(
    application_id: uuid.UUID, caller: VettingDep, session: SessionDep
) -> ApplicationReview:
    application, pseudonym = await CoordinatorService(session).for_review(caller, application_id)
    return ApplicationReview.model_validate(
        {**Application.model_validate(application).model_dump(), "pseudonym": pseudonym}
    )


@router.post(
    "/coordinator-applications/{application_id}/approval",
    summary="Approve an application with the vetting reference and expiry (officers, verifiers)",
    description=(
        "Grants the coordinator role for the scheme (in tokens issued from now), tells the "
        "member, and is audited. The role lapses by itself after the vetting's expiry date."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def approve(
    application_id: uuid.UUID,
    body: Annotated[
        ApplicationApproval,
        Body(
            openapi_examples=openapi_examples(
                vetted={"vetting_reference": "MPS/NPPV2/48213", "vetting_expires_on": "2029-11-30"}
            )
        ),
    ],
    caller: VettingDep,
    session: SessionDep,
) -> Application:
    application = await CoordinatorService(session).approve(caller, application_id, body)
    return Application.model_validate(application)


@router.post(
    "/coordinator-applications/{application_id}/refusal",
    summary="Refuse an application with a reason (officers, verifiers)",
    description="The member is told the reason; audited.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def refuse(
    application_id: uuid.UUID,
    body: Annotated[
        ApplicationRefusal,
        Body(openapi_examples=openapi_examples(refused={"reason": "Vetting was not granted"})),
    ],
    caller: VettingDep,
    session: SessionDep,
) -> Application:
    application = await CoordinatorService(session).refuse(caller, application_id, body.reason)
    return Application.model_validate(application)
