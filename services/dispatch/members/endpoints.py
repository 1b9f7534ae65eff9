"""A member reads where dispatch will reach them (addresses masked)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from services.dispatch.members import schemas
from services.dispatch.members.service import MemberEndpointService, MemberExportService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.exports import STILL_COLLECTING_RESPONSE, ExportPart, still_collecting
from shared.runtime import SessionDep

router = APIRouter(prefix="/endpoints", tags=["endpoints"])


def endpoint_service(session: SessionDep) -> MemberEndpointService:
    return MemberEndpointService(session)


EndpointServiceDep = Annotated[MemberEndpointService, Depends(endpoint_service)]


@router.get(
    "/me",
    summary="Where alerts reach me",
    description="Any signed-in member. The channels dispatch holds for the caller, with each "
    "address masked (j***@example.com). Empty until the member has verified an address.",
    responses=problem_responses(401),
)
async def my_endpoints(
    principal: CurrentPrincipal, service: EndpointServiceDep
) -> list[schemas.Endpoint]:
    endpoints = await service.endpoints_of(principal.member_id)
    return [schemas.Endpoint.from_model(endpoint) for endpoint in endpoints]


exports_router = APIRouter(tags=["data rights"])


@exports_router.get(
    "/members/me/exports/{export_id}",
    response_model=ExportPart[schemas.DispatchExport],
    summary="Dispatch's part of my data export: endpoints, preferences, what was sent",
    description="The export id comes from identity's `GET /members/me/export`; this part is "
    "ready a moment later (202 until then) and kept for 7 days.",
    responses={**STILL_COLLECTING_RESPONSE, **problem_responses(401, 422)},
)
async def my_export_part(
    export_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> ExportPart[schemas.DispatchExport] | JSONResponse:
    response.headers["Cache-Control"] = "no-store"
    part = await MemberExportService(session).part(principal.member_id, export_id)
    return part if part is not None else still_collecting(export_id)
