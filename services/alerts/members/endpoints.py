"""A member's part of their data export, from alerts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.alerts.members.schemas import AlertsExport
from services.alerts.members.service import MemberLifecycleService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.exports import ExportPart
from shared.runtime import SessionDep

router = APIRouter(tags=["data rights"])


@router.get(
    "/members/me/exports/{export_id}",
    summary="Alerts' part of my data export: my replies and usefulness marks",
    description="The export id comes from identity's `GET /members/me/export`; this part is "
    "ready a moment later (404 `export-not-ready` until then) and kept for 7 days.",
    responses=problem_responses(401, 404, 422),
)
async def my_export_part(
    export_id: uuid.UUID, member: CurrentPrincipal, session: SessionDep, response: Response
) -> ExportPart[AlertsExport]:
    response.headers["Cache-Control"] = "no-store"
    return await MemberLifecycleService(session).export_part(member.member_id, export_id)
