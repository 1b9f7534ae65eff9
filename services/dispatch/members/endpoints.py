"""A member reads where dispatch will reach them (addresses masked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.dispatch.members import schemas
from services.dispatch.members.service import MemberEndpointService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
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
