"""Public feeds of live public alerts per borough and per ward, as Atom and as JSON Feed 1.1.
Each item is the alert's latest message (its last Update, if any) and links to its CAP."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from services.alerts.dependencies import AlertsSettingsDep
from services.alerts.feeds.document import (
    ATOM_MEDIA_TYPE,
    JSON_FEED_MEDIA_TYPE,
    atom_feed,
    json_feed,
)
from services.alerts.feeds.service import FeedService
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/feeds", tags=["feeds"])


def feed_service(session: SessionDep, settings: AlertsSettingsDep) -> FeedService:
    return FeedService(session, settings=settings)


FeedServiceDep = Annotated[FeedService, Depends(feed_service)]

WardCode = Annotated[
    str,
    Path(
        pattern=r"^[A-Z][0-9]{8}$",
        description="An ONS ward code",
        openapi_examples=openapi_examples(a_ward="E05013806"),
    ),
]
BoroughCode = Annotated[
    str,
    Path(
        pattern=r"^E09[0-9]{6}$",
        description="An ONS London borough code",
        openapi_examples=openapi_examples(camden="E09000007"),
    ),
]


FEED_RESPONSES = problem_responses(422)


@router.get(
    "/wards/{ward_code}.json",
    summary="Live public alerts for a ward (JSON Feed)",
    description="Anyone. Alerts touching the ward: by its code, by its whole borough, or by a "
    "circle or polygon over it (when ward boundaries are configured); each as its latest "
    "message.",
    responses={**FEED_RESPONSES, 200: {"content": {JSON_FEED_MEDIA_TYPE: {}}}},
)
async def ward_json(
    service: FeedServiceDep, settings: AlertsSettingsDep, ward_code: WardCode
) -> Response:
    items = await service.for_ward(ward_code)
    url = f"{settings.public_base_url}/feeds/wards/{ward_code}.json"
    return _json(json_feed(settings, f"Tawny alerts for ward {ward_code}", url, items))


@router.get(
    "/wards/{ward_code}.atom",
    summary="Live public alerts for a ward (Atom)",
    description="Anyone. Alerts touching the ward: by its code, by its whole borough, or by a "
    "circle or polygon over it (when ward boundaries are configured); each as its latest "
    "message.",
    responses={**FEED_RESPONSES, 200: {"content": {ATOM_MEDIA_TYPE: {}}}},
)
async def ward_atom(
    service: FeedServiceDep, settings: AlertsSettingsDep, ward_code: WardCode
) -> Response:
    items = await service.for_ward(ward_code)
    url = f"{settings.public_base_url}/feeds/wards/{ward_code}.atom"
    return Response(
        atom_feed(settings, f"Tawny alerts for ward {ward_code}", url, items),
        media_type=ATOM_MEDIA_TYPE,
    )


@router.get(
    "/boroughs/{borough_code}.json",
    summary="Live public alerts for a borough (JSON Feed)",
    description="Anyone. Alerts touching the borough: by its code, by a ward in it, or by a "
    "circle or polygon over it (when ward boundaries are configured).",
    responses={**FEED_RESPONSES, 200: {"content": {JSON_FEED_MEDIA_TYPE: {}}}},
)
async def borough_json(
    service: FeedServiceDep, settings: AlertsSettingsDep, borough_code: BoroughCode
) -> Response:
    items = await service.for_borough(borough_code)
    url = f"{settings.public_base_url}/feeds/boroughs/{borough_code}.json"
    return _json(json_feed(settings, f"Tawny alerts for borough {borough_code}", url, items))


@router.get(
    "/boroughs/{borough_code}.atom",
    summary="Live public alerts for a borough (Atom)",
    description="Anyone. Alerts touching the borough: by its code, by a ward in it, or by a "
    "circle or polygon over it (when ward boundaries are configured).",
    responses={**FEED_RESPONSES, 200: {"content": {ATOM_MEDIA_TYPE: {}}}},
)
async def borough_atom(
    service: FeedServiceDep, settings: AlertsSettingsDep, borough_code: BoroughCode
) -> Response:
    items = await service.for_borough(borough_code)
    url = f"{settings.public_base_url}/feeds/boroughs/{borough_code}.atom"
    return Response(
        atom_feed(settings, f"Tawny alerts for borough {borough_code}", url, items),
        media_type=ATOM_MEDIA_TYPE,
    )


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), media_type=JSON_FEED_MEDIA_TYPE)
