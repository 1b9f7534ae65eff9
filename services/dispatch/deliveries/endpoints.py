"""Officers follow an alert's deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.dispatch.deliveries import schemas
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.dependencies import Officer
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


def delivery_service(session: SessionDep) -> DeliveryService:
    return DeliveryService(session)


DeliveryServiceDep = Annotated[DeliveryService, Depends(delivery_service)]


@router.get(
    "/summary",
    summary="Count one alert's deliveries by channel and status",
    description="Officers and admins only. An alert dispatch has no deliveries for (not "
    "published, nobody watching its wards, or its batches not yet handled) has a total of 0.",
    responses=problem_responses(401, 403, 422),
)
async def delivery_summary(
    _officer: Officer,
    service: DeliveryServiceDep,
    alert_id: Annotated[
        uuid.UUID,
        Query(
            description="The alert's id (from the alerts service)",
            openapi_examples=openapi_examples(an_alert="7f0c2a52-3c1e-4a5e-9a7b-2f4d8f7e1b10"),
        ),
    ],
) -> schemas.DeliverySummary:
    return await service.summarise(alert_id)
