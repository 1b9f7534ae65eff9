"""Organisations: borough commands, Neighbourhood Watch schemes and partner agencies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from services.identity.dependencies import CallerDep, PlatformAdminDep, StaffDep
from services.identity.models import OrganisationKind
from services.identity.organisations.schemas import Organisation, OrganisationCreate
from services.identity.organisations.service import OrganisationService
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["organisations"])


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    summary="Register an organisation with its area (platform admins)",
    description=(
        "Identity does not own geography: the area is given as ward codes. A borough command's "
        "code is its borough's GSS code."
    ),
    responses=problem_responses(401, 403, 409, 422),
)
async def create_organisation(
    body: Annotated[
        OrganisationCreate,
        Body(
            openapi_examples=openapi_examples(
                scheme={
                    "kind": "nw_scheme",
                    "code": "nw-aldgate-east",
                    "name": "Aldgate East Neighbourhood Watch",
                    "ward_codes": ["E05009289"],
                }
            )
        ),
    ],
    caller: PlatformAdminDep,
    session: SessionDep,
) -> Organisation:
    organisation = await OrganisationService(session).create(body, actor_id=caller.member.id)
    return Organisation.model_validate(organisation)


@router.get(
    "/organisations",
    summary="List organisations (staff)",
    responses=problem_responses(401, 403, 422),
)
async def list_organisations(
    caller: StaffDep,
    session: SessionDep,
    kind: OrganisationKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[Organisation]:
    organisations = await OrganisationService(session).list(kind=kind, limit=limit, offset=offset)
    return [Organisation.model_validate(organisation) for organisation in organisations]


@router.get(
    "/organisations/{organisation_id}",
    summary="One organisation and its area (staff)",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_organisation(
    organisation_id: uuid.UUID, caller: StaffDep, session: SessionDep
) -> Organisation:
    return Organisation.model_validate(await OrganisationService(session).get(organisation_id))


@router.get(
    "/schemes",
    summary="Neighbourhood Watch schemes a member may apply to coordinate",
    description="Any signed-in member: each scheme's id (for `POST /coordinator-applications`), "
    "name and wards, by name.",
    responses=problem_responses(401, 403, 422),
)
async def list_schemes(
    caller: CallerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[Organisation]:
    schemes = await OrganisationService(session).list(
        kind=OrganisationKind.NW_SCHEME, limit=limit, offset=offset
    )
    return [Organisation.model_validate(scheme) for scheme in schemes]
