"""Officers write alerts as drafts, read them back, and publish them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query

from services.alerts.authoring import schemas
from services.alerts.authoring.service import AlertService
from services.alerts.dependencies import AlertsSettingsDep, Officer
from services.alerts.models import AlertState, CrimeType, Severity, Urgency
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/alerts", tags=["alerts"])

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Deep offsets are slow scans; nobody pages this far through alerts by hand.
MAX_OFFSET = 100_000

EXAMPLE_ALERT_ID = "7f0c2a52-3c1e-4a5e-9a7b-2f4d8f7e1b10"


def alert_service(session: SessionDep, settings: AlertsSettingsDep) -> AlertService:
    return AlertService(session, sender_name=settings.sender_name)


AlertServiceDep = Annotated[AlertService, Depends(alert_service)]

AlertId = Annotated[
    uuid.UUID,
    Path(
        description="The alert's id",
        openapi_examples=openapi_examples(an_alert=EXAMPLE_ALERT_ID),
    ),
]

CREATE_EXAMPLES = openapi_examples(
    burglary_in_two_wards={
        "headline": "Burglaries on Acacia Avenue overnight",
        "body": "Three homes were broken into between 1am and 4am. Lock windows and doors, "
        "and call 101 if you saw anything.",
        "crime_type": CrimeType.BURGLARY.value,
        "severity": Severity.MODERATE.value,
        "urgency": Urgency.EXPECTED.value,
        "target_ward_codes": ["E05013806", "E05013807"],
    },
    missing_person_defaults={
        "headline": "Have you seen Sam, 14?",
        "body": "Sam was last seen near the station at 6pm wearing a red coat. Call 999 "
        "quoting 24MIS0012.",
        "crime_type": CrimeType.MISSING_PERSON.value,
        "target_ward_codes": ["E05013806"],
    },
)


@router.post(
    "",
    status_code=201,
    summary="Write a new alert as a draft",
    description="Officers and admins only. Nobody receives a draft until it is published.",
    responses=problem_responses(401, 403, 422),
)
async def create_alert(
    officer: Officer,
    service: AlertServiceDep,
    data: Annotated[schemas.AlertCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> schemas.Alert:
    alert = await service.create_draft(data, author=officer)
    return schemas.Alert.from_model(alert)


@router.post(
    "/{alert_id}/publish",
    summary="Publish a draft alert to its wards",
    description="Officers and admins only. Publishing an alert that is not a draft is a "
    "conflict (409) and sends nothing again.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def publish_alert(
    officer: Officer, service: AlertServiceDep, alert_id: AlertId
) -> schemas.Alert:
    alert = await service.publish(alert_id, publisher=officer)
    return schemas.Alert.from_model(alert)


@router.get(
    "/{alert_id}",
    summary="Read one alert",
    description="Officers and admins only.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_alert(
    _officer: Officer, service: AlertServiceDep, alert_id: AlertId
) -> schemas.Alert:
    alert = await service.get(alert_id)
    return schemas.Alert.from_model(alert)


@router.get(
    "",
    summary="List alerts, newest first",
    description="Officers and admins only. Filter by status and page with limit and offset.",
    responses=problem_responses(401, 403, 422),
)
async def list_alerts(
    _officer: Officer,
    service: AlertServiceDep,
    status: Annotated[
        AlertState | None,
        Query(
            description="Only alerts in this state",
            openapi_examples=openapi_examples(drafts=AlertState.DRAFT.value),
        ),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_PAGE_SIZE,
            description="How many alerts at most",
            openapi_examples=openapi_examples(a_page=20),
        ),
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OFFSET,
            description="How many of the newest alerts to skip",
            openapi_examples=openapi_examples(second_page=20),
        ),
    ] = 0,
) -> list[schemas.Alert]:
    alerts = await service.list_newest_first(state=status, limit=limit, offset=offset)
    return [schemas.Alert.from_model(alert) for alert in alerts]
