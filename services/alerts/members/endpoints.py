"""A member's part of their data export, from alerts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from services.alerts.dependencies import AlertsSettingsDep
from services.alerts.members.schemas import AlertsExport
from services.alerts.members.service import MemberLifecycleService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.exports import STILL_COLLECTING_RESPONSE, ExportPart, still_collecting
from shared.runtime import SessionDep

router = APIRouter(tags=["data rights"])


@router.get(
    "/members/me/exports/{export_id}",
    response_model=ExportPart[AlertsExport],
    summary="Alerts' part of my data export: my replies and usefulness marks",
    description="The export id comes from identity's `GET /members/me/export`; this part is "
    "ready a moment later (202 until then) and kept for 7 days.",
    responses={**STILL_COLLECTING_RESPONSE, **problem_responses(401, 422)},
)
async def my_export_part(
    export_id: uuid.UUID,
    member: CurrentPrincipal,
    session: SessionDep,
    settings: AlertsSettingsDep,
    response: Response,
) -> ExportPart[AlertsExport] | JSONResponse:
    response.headers["Cache-Control"] = "no-store"
    part = await MemberLifecycleService(session, settings=settings).export_part(
        member.member_id, export_id
    )
    return part if part is not None else still_collecting(export_id)
