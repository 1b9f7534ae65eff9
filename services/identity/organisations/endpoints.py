"""Organisations: borough commands, Neighbourhood Watch schemes and partner agencies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from services.identity.dependencies import CallerDep, PlatformAdminDep, StaffDep
from services.identity.models import OrganisationKind
from services.identity.organisations.schemas import Organisation, OrganisationCreate
from services.identity.organisations.service import OrganisationService
from shared.errors import problem_responses
from shared.pagination import CursorParam, KeysetCursor, announce_next_keys
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["organisations"])

# Both lists are sorted by (kind, code), unique together: the keyset a cursor names.
SORT_KEYS = ("kind", "code")
PAGING = (
    " Page with `cursor` (the next page's address is in the `Link` rel=next and `Next-Cursor` "
    "headers); `offset` still works (deprecated)."
)
OffsetParam = Annotated[
    int, Query(ge=0, le=100_000, openapi_examples=openapi_examples(next_page=50))
]


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
    description="By kind, then code." + PAGING,
    responses=problem_responses(400, 401, 403, 422),
)
async def list_organisations(
    request: Request,
    response: Response,
    caller: StaffDep,
    session: SessionDep,
    kind: OrganisationKind | None = None,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200, openapi_examples=openapi_examples(a_page=50))] = 50,
    offset: OffsetParam = 0,
) -> list[Organisation]:
    organisations = await OrganisationService(session).list(
        kind=kind,
        limit=limit,
        offset=offset,
        cursor=KeysetCursor.decode(cursor, arity=len(SORT_KEYS), offset=offset),
    )
    announce_next_keys(request, response, organisations, limit, *SORT_KEYS)
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
    "name and wards, by code." + PAGING,
    responses=problem_responses(400, 401, 403, 422),
)
async def list_schemes(
    request: Request,
    response: Response,
    caller: CallerDep,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200, openapi_examples=openapi_examples(a_page=200))] = 200,
    offset: OffsetParam = 0,
) -> list[Organisation]:
    schemes = await OrganisationService(session).list(
        kind=OrganisationKind.NW_SCHEME,
        limit=limit,
        offset=offset,
        cursor=KeysetCursor.decode(cursor, arity=len(SORT_KEYS), offset=offset),
    )
    announce_next_keys(request, response, schemes, limit, *SORT_KEYS)
    return [Organisation.model_validate(scheme) for scheme in schemes]
