"""A member reads where dispatch will reach them (addresses masked)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from services.dispatch.errors import EndpointNotFoundError
from services.dispatch.members import schemas
from services.dispatch.members.service import MemberEndpointService, MemberExportService
from services.dispatch.models import ChannelKind
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.exports import STILL_COLLECTING_RESPONSE, ExportPart, still_collecting
from shared.runtime import SessionDep

router = APIRouter(prefix="/endpoints", tags=["endpoints"])


def endpoint_service(session: SessionDep) -> MemberEndpointService:
    return MemberEndpointService(session)


EndpointServiceDep = Annotated[MemberEndpointService, Depends(endpoint_service)]
# The channels a member removes an endpoint of here (their email is identity's to change).
RemovableChannel = Literal["webpush", "fcm", "sms"]


@router.get(
    "/me",
    summary="Where alerts reach me",
    description="Any signed-in member. The endpoints dispatch holds for the caller, each with "
    "its id: one per channel for email and SMS (the address masked, j***@example.com), one "
    "per browser (web push: its push service) and per app installation (FCM). Empty until "
    "the member has verified an address.",
    responses=problem_responses(401),
)
async def my_endpoints(
    principal: CurrentPrincipal, service: EndpointServiceDep
) -> list[schemas.Endpoint]:
    endpoints = await service.endpoints_of(principal.member_id)
    return [schemas.Endpoint.from_model(endpoint) for endpoint in endpoints]


@router.delete(
    "/me/{channel}/{endpoint_id}",
    status_code=204,
    summary="Stop alerts on one of my devices",
    description="Any signed-in member. Removes one endpoint of the caller's by the id `GET "
    "/endpoints/me` lists: one browser (`webpush`), one app installation (`fcm`) or the SMS "
    "number (`sms`), leaving the others. 404 when the caller has no such endpoint on the "
    "channel (removed already, say). The email address is identity's to change.",
    responses=problem_responses(401, 404, 422),
)
async def remove_my_endpoint(
    channel: RemovableChannel,
    endpoint_id: uuid.UUID,
    principal: CurrentPrincipal,
    service: EndpointServiceDep,
) -> Response:
    if not await service.remove(principal.member_id, ChannelKind(channel), endpoint_id=endpoint_id):
        raise EndpointNotFoundError("You have no such endpoint on this channel.")
    return Response(status_code=204)


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
