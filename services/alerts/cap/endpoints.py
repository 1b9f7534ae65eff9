"""CAP 1.2 interop: other police systems post CAP documents (scope ``cap:write``), and every
alert is served as a CAP document."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.alerts.authoring import schemas
from services.alerts.authoring.endpoints import AlertId
from services.alerts.authoring.policy import CAP_WRITE_SCOPE
from services.alerts.cap.document import CAP_MEDIA_TYPE
from services.alerts.cap.service import CapService, is_public
from services.alerts.dependencies import AlertsSettingsDep, require_staff_from_request
from services.alerts.errors import (
    CapDocumentTooLargeError,
    UnsupportedMediaTypeError,
)
from shared.auth import CurrentPrincipal
from shared.errors import ForbiddenError, problem_responses
from shared.runtime import SessionDep

router = APIRouter(prefix="/alerts", tags=["cap"])


def cap_service(session: SessionDep, settings: AlertsSettingsDep) -> CapService:
    return CapService(session, settings=settings)


CapServiceDep = Annotated[CapService, Depends(cap_service)]

EXAMPLE_CAP = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
    "<identifier>MPS-2026-0001</identifier><sender>cad@met.police.uk</sender>"
    "<sent>2026-11-23T12:00:00+00:00</sent><status>Actual</status><msgType>Alert</msgType>"
    "<scope>Public</scope><info><language>en-GB</language><category>Security</category>"
    "<event>Burglary</event><urgency>Expected</urgency><severity>Moderate</severity>"
    "<certainty>Observed</certainty><expires>2026-11-30T12:00:00+00:00</expires>"
    "<headline>Burglaries on Acacia Avenue</headline><description>Lock doors.</description>"
    "<parameter><valueName>tawny:crimeType</valueName><value>burglary</value></parameter>"
    "<parameter><valueName>tawny:noVictimDetails</valueName><value>confirmed</value>"
    "</parameter><area><areaDesc>Acacia ward</areaDesc><geocode><valueName>ONS_WARD"
    "</valueName><value>E05013806</value></geocode></area></info></alert>"
)


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes (never buffered beyond it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise CapDocumentTooLargeError(_too_large(limit))
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise CapDocumentTooLargeError(_too_large(limit))
    return bytes(body)


def _too_large(limit: int) -> str:
    return (
        f"CAP documents are limited to {limit} bytes. Post one CAP alert per request: a feed "
        "(Atom or RSS) of many is not a CAP document; post each of its entries in turn."
    )


@router.post(
    "/cap",
    status_code=201,
    summary="Receive a CAP 1.2 alert, Update or Cancel from another system",
    description="API clients whose token has the scope cap:write (and a role and area that "
    "may author for the target). The body is application/cap+xml, one alert, parsed without "
    "DTDs or entities and validated against the OASIS CAP 1.2 schema, then by CAP's rules the "
    "schema leaves to prose (identifier and sender without spaces, commas, < or &; dateTimes "
    "with an offset; references as sender,identifier,sent). Every refusal is problem+json "
    "whose `element` names the CAP element at fault. Info blocks are one per language: "
    "translations may word event, senderName, headline, description, instruction, contact, "
    "web and areaDesc in their own language. The area must be in Greater London: ONS_WARD "
    "and ONS_BOROUGH geocodes, or circles and polygons (alone, they target the wards they "
    "touch); anything else is 422 `cap-area-outside-coverage`. Tawny's own fields travel as "
    "optional parameters (tawny:crimeType, tawny:reference, tawny:channels, ...); without "
    "tawny:crimeType the crime type is derived from category, event and eventCode "
    "(`crime_type_derived`, corrected by an officer before approval). An Alert becomes a "
    "draft (201), submitted for officers' approval at once unless the client is itself an "
    "officer. An Update or Cancel whose references name an alert Tawny holds is applied to "
    "it, as Tawny's own Update or Cancel to the same recipients, by a client of the "
    "organisation that sent the original or an officer of its area (403 otherwise); unknown "
    "references are refused (422), as is anything the alert's state does not allow (409). "
    "An Update of an Extreme or cross-borough alert is returned as submitted until officers "
    "approve it. Send `Idempotency-Key` to make a retry safe.",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {CAP_MEDIA_TYPE: {"schema": {"type": "string"}, "example": EXAMPLE_CAP}},
        }
    },
)
async def receive_cap(
    request: Request,
    principal: CurrentPrincipal,
    service: CapServiceDep,
    settings: AlertsSettingsDep,
) -> schemas.Alert:
    if CAP_WRITE_SCOPE not in principal.scopes:
        raise ForbiddenError(f"Posting CAP needs the scope {CAP_WRITE_SCOPE}.")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != CAP_MEDIA_TYPE:
        raise UnsupportedMediaTypeError(f"Send the document as {CAP_MEDIA_TYPE}.")
    data = await read_limited(request, settings.cap_max_bytes)
    alert = await service.receive(data, client=principal)
    return schemas.Alert.from_model(alert)


@router.get(
    "/{alert_id}/cap",
    summary="An alert as a CAP 1.2 document",
    description="Anyone, for a published public alert; staff for any other.",
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {"content": {CAP_MEDIA_TYPE: {"schema": {"type": "string"}}}},
    },
)
async def alert_as_cap(request: Request, service: CapServiceDep, alert_id: AlertId) -> Response:
    alert = await service.get(alert_id)
    if not is_public(alert):
        await require_staff_from_request(request)
    return Response(await service.document_of(alert), media_type=CAP_MEDIA_TYPE)
