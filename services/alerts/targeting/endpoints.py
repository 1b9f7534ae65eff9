"""Retrying a published alert's targeting once what geo could not resolve is fixed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.alerts.authoring import schemas
from services.alerts.authoring.endpoints import AlertId
from services.alerts.dependencies import AlertsSettingsDep, Officer
from services.alerts.targeting.service import TargetingService
from shared.errors import problem_responses
from shared.runtime import SessionDep

router = APIRouter(prefix="/alerts", tags=["alerts"])


def targeting_service(session: SessionDep, settings: AlertsSettingsDep) -> TargetingService:
    return TargetingService(session, settings=settings)


TargetingServiceDep = Annotated[TargetingService, Depends(targeting_service)]


@router.post(
    "/{alert_id}/retry-targeting",
    status_code=202,
    summary="Ask geo to resolve a published alert's target again (officers)",
    description="For a published alert whose `targeting.status` is `failed`: some parts of "
    "its target could not be resolved by geo (its boundary set changed, a bug) while the "
    "rest went out. Once that is fixed, geo resolves the whole target again; members "
    "already reached are not sent it twice (one delivery per alert, member and channel). "
    "The alert's `targeting` shows `waiting` until geo reports. 409 when nothing failed, "
    "the alert is no longer live, or a retry is already under way.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def retry_targeting(
    alert_id: AlertId, officer: Officer, service: TargetingServiceDep
) -> schemas.Alert:
    return schemas.Alert.from_model(await service.retry(alert_id, officer=officer))
