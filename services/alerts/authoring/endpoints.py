"""Writing alerts, the approval workflow, and what follows publication (update, cancel,
resolve). Staff are officers, admins, coordinators and partners; the service decides, from the
token's roles and area, who may do what to which alert."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from services.alerts.authoring import schemas
from services.alerts.authoring.repository import AlertFilters
from services.alerts.authoring.service import AlertService
from services.alerts.dependencies import AlertsSettingsDep, Officer, Staff
from services.alerts.models import AlertState, CrimeType, MsgType, Severity, Urgency
from shared.errors import problem_responses
from shared.pagination import CursorParam, announce_if_full, decode_cursor
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/alerts", tags=["alerts"])

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Deep offsets are slow scans; nobody pages this far through alerts by hand.
MAX_OFFSET = 100_000

EXAMPLE_ALERT_ID = "7f0c2a52-3c1e-4a5e-9a7b-2f4d8f7e1b10"


def alert_service(session: SessionDep, settings: AlertsSettingsDep) -> AlertService:
    return AlertService(session, settings=settings)


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
        "body": "Three homes were broken into between 1am and 4am.",
        "instruction": "Lock windows and doors, and call 101 if you saw anything.",
        "crime_type": CrimeType.BURGLARY.value,
        "severity": Severity.MODERATE.value,
        "urgency": Urgency.EXPECTED.value,
        "channels": ["email", "sms"],
        "target_ward_codes": ["E05013806", "E05013807"],
        "no_victim_details_confirmed": True,
    },
    witness_appeal_with_suspect={
        "headline": "Witness appeal: robbery on the High Street",
        "body": "A man's phone was taken at knifepoint at 9pm on Friday.",
        "crime_type": CrimeType.WITNESS_APPEAL.value,
        "reference": "CAD 1234/23NOV",
        "contact": "Call 101 quoting CAD 1234/23NOV",
        "suspects": [{"clothing": "black puffer jacket", "height": "about 6ft"}],
        "target_borough_codes": ["E09000007"],
        "no_victim_details_confirmed": True,
    },
)
CHANGE_EXAMPLES = openapi_examples(
    new_advice={
        "instruction": "Police remain in the area; avoid Mill Lane until 6pm.",
        "no_victim_details_confirmed": True,
    }
)
OUTCOME_EXAMPLES = openapi_examples(
    arrest={"body": "A suspect has been arrested. Thank you.", "no_victim_details_confirmed": True}
)
CANCEL_EXAMPLES = openapi_examples(sent_in_error={"reason": "This alert was sent in error."})
SCHEDULE_EXAMPLES = openapi_examples(tomorrow_morning={"publish_at": "2026-11-24T08:00:00+00:00"})
RETURN_EXAMPLES = openapi_examples(needs_work={"reason": "Remove the street number."})


@router.post(
    "",
    status_code=201,
    summary="Write a new alert as a draft",
    description="Officers, admins, coordinators and partners, for targets within their own "
    "area. Nobody receives a draft until it is published. The target must meet the targeting "
    "contract (shared/targeting.py: circles of 100 m to 25 km and polygons that are closed, "
    "do not cross themselves and lie in Greater London; codes of the loaded boundary set): "
    "otherwise 422 `alert-target-invalid`, whose `field` names the first part at fault and "
    "`problems` lists every one.",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_alert(
    author: Staff,
    service: AlertServiceDep,
    data: Annotated[schemas.AlertCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> schemas.Alert:
    alert = await service.create_draft(data, author=author)
    return schemas.Alert.from_model(alert)


@router.post(
    "/preview",
    summary="Preview an alert on each of its channels",
    description="Staff only. SMS encoding and segments, push truncation, email subject.",
    responses=problem_responses(401, 403, 422),
)
async def preview_alert(
    _staff: Staff,
    service: AlertServiceDep,
    data: Annotated[schemas.AlertCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> schemas.ChannelPreview:
    return service.preview(data)


@router.put(
    "/{alert_id}/crime-type",
    summary="Correct an alert's crime type before approval or once published",
    description="An officer covering the alert, while it is a draft or submitted: most often "
    "a CAP message received without tawny:crimeType, whose crime type was derived "
    "(`crime_type_derived`). Or once published (also updated, resolved, cancelled or "
    "expired): what was sent stays as sent, but the alert and its follow-ups take the "
    "corrected type and the dashboard moves the alert to it. Not between approval and "
    "publication (409): the approval covered the type. Audited.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def reclassify_alert(
    officer: Officer,
    service: AlertServiceDep,
    alert_id: AlertId,
    data: Annotated[
        schemas.Reclassification,
        Body(openapi_examples=openapi_examples(burglary={"crime_type": "burglary"})),
    ],
) -> schemas.Alert:
    alert = await service.reclassify(alert_id, officer=officer, crime_type=data.crime_type)
    return schemas.Alert.from_model(alert)


@router.post(
    "/{alert_id}/submit",
    summary="Submit a draft for an officer's approval",
    description="The author only.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def submit_alert(author: Staff, service: AlertServiceDep, alert_id: AlertId) -> schemas.Alert:
    return schemas.Alert.from_model(await service.submit(alert_id, author=author))


@router.post(
    "/{alert_id}/approve",
    summary="Approve a submitted alert, or an Update held for approval",
    description="An officer of a borough the target touches (area_boroughs), never the author: "
    "they sign off for their boroughs. The alert is approved once every touched borough is "
    "signed off; Extreme alerts and targets touching more than one borough need two different "
    "officers. An Update of such an alert waits for the same, then goes out when approved.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def approve_alert(
    officer: Officer, service: AlertServiceDep, alert_id: AlertId
) -> schemas.Alert:
    return schemas.Alert.from_model(await service.approve(alert_id, officer=officer))


@router.post(
    "/{alert_id}/return",
    summary="Return a submitted or approved alert to its author as a draft",
    description="An officer whose area covers the target. Approvals are cleared.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def return_alert(
    officer: Officer,
    service: AlertServiceDep,
    alert_id: AlertId,
    data: Annotated[schemas.ReturnToDraft, Body(openapi_examples=RETURN_EXAMPLES)],
) -> schemas.Alert:
    alert = await service.return_to_draft(alert_id, officer=officer, reason=data.reason)
    return schemas.Alert.from_model(alert)


@router.post(
    "/{alert_id}/publish",
    summary="Publish an alert to its target now",
    description="An officer whose area covers the target: their own draft when no second "
    "officer is required, or an approved alert. Anything else is a conflict (409) and sends "
    "nothing.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def publish_alert(
    officer: Officer, service: AlertServiceDep, alert_id: AlertId
) -> schemas.Alert:
    return schemas.Alert.from_model(await service.publish(alert_id, publisher=officer))


@router.post(
    "/{alert_id}/schedule",
    summary="Publish an alert at a later time",
    description="As for publishing now; the alert goes out at publish_at.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def schedule_alert(
    officer: Officer,
    service: AlertServiceDep,
    alert_id: AlertId,
    data: Annotated[schemas.Schedule, Body(openapi_examples=SCHEDULE_EXAMPLES)],
) -> schemas.Alert:
    alert = await service.schedule(alert_id, publisher=officer, publish_at=data.publish_at)
    return schemas.Alert.from_model(alert)


@router.post(
    "/{alert_id}/unschedule",
    summary="Take a scheduled alert off the schedule",
    description="An officer whose area covers the target.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def unschedule_alert(
    officer: Officer, service: AlertServiceDep, alert_id: AlertId
) -> schemas.Alert:
    return schemas.Alert.from_model(await service.unschedule(alert_id, officer=officer))


@router.post(
    "/{alert_id}/updates",
    status_code=201,
    summary="Update a published alert",
    description="An officer of a borough the target touches. Issues a CAP Update message "
    "referencing the original, to the same recipients; returns the new message. A new "
    "crime_type brings its CAP event and categories with it, and the dashboard counts the alert "
    "under it (and the new severity) from then on. An Update of "
    "an Extreme alert (or one made Extreme), or of a target touching several boroughs, is "
    "returned as submitted and goes out once other officers approve it (POST "
    "/alerts/{update id}/approve); /return turns it down.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_alert(
    officer: Officer,
    service: AlertServiceDep,
    alert_id: AlertId,
    data: Annotated[schemas.AlertChange, Body(openapi_examples=CHANGE_EXAMPLES)],
) -> schemas.Alert:
    message = await service.update(alert_id, officer=officer, change=data)
    return schemas.Alert.from_model(message)


@router.post(
    "/{alert_id}/resolve",
    status_code=201,
    summary="Tell everyone who received an alert how it ended",
    description="An officer of a borough the target touches. Issues an Update (response "
    "AllClear) with the outcome, to the same recipients; returns the new message. For an "
    "Extreme or cross-borough alert it is returned as submitted and goes out once other "
    "officers approve it, as for an update.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def resolve_alert(
    officer: Officer,
    service: AlertServiceDep,
    alert_id: AlertId,
    data: Annotated[schemas.Outcome, Body(openapi_examples=OUTCOME_EXAMPLES)],
) -> schemas.Alert:
    return schemas.Alert.from_model(await service.resolve(alert_id, officer=officer, outcome=data))


@router.post(
    "/{alert_id}/cancel",
    status_code=201,
    summary="Cancel a published alert",
    description="An officer of a borough the target touches. Issues a CAP Cancel message to "
    "the same recipients at once (a cancellation never waits for approval); returns it.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def cancel_alert(
    officer: Officer,
    service: AlertServiceDep,
    alert_id: AlertId,
    data: Annotated[schemas.Cancellation, Body(openapi_examples=CANCEL_EXAMPLES)],
) -> schemas.Alert:
    message = await service.cancel(alert_id, officer=officer, cancellation=data)
    return schemas.Alert.from_model(message)


@router.get(
    "/{alert_id}/audit",
    summary="Who did what to an alert, and when",
    description="Staff only. Oldest first.",
    responses=problem_responses(401, 403, 404, 422),
)
async def alert_audit(
    _staff: Staff, service: AlertServiceDep, alert_id: AlertId
) -> list[schemas.AuditRecord]:
    return [schemas.AuditRecord.from_model(entry) for entry in await service.audit(alert_id)]


@router.get(
    "/{alert_id}",
    summary="Read one alert (one CAP message)",
    description="Staff only.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_alert(_staff: Staff, service: AlertServiceDep, alert_id: AlertId) -> schemas.Alert:
    return schemas.Alert.from_model(await service.get(alert_id))


@router.get(
    "",
    summary="List alerts, newest first",
    description="Staff only. Filter by status, crime type, message type, author, ward, "
    "borough and creation time. Page with `cursor`: when more may follow, the next page's "
    "address is in the `Link` (rel=next) and `Next-Cursor` headers. `offset` still works "
    "(deprecated: a cursor never skips or repeats an alert written meanwhile).",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_alerts(
    request: Request,
    response: Response,
    _staff: Staff,
    service: AlertServiceDep,
    cursor: CursorParam = None,
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
            description="How many of the newest alerts to skip (deprecated: use cursor)",
            openapi_examples=openapi_examples(second_page=20),
        ),
    ] = 0,
    crime_type: Annotated[
        CrimeType | None,
        Query(
            description="Only alerts of this crime type",
            openapi_examples=openapi_examples(burglaries=CrimeType.BURGLARY.value),
        ),
    ] = None,
    msg_type: Annotated[
        MsgType | None,
        Query(
            description="Only originals (Alert), or only Updates or Cancels",
            openapi_examples=openapi_examples(originals=MsgType.ALERT.value),
        ),
    ] = None,
    author_id: Annotated[
        uuid.UUID | None,
        Query(
            description="Only alerts written by this member",
            openapi_examples=openapi_examples(an_author=EXAMPLE_ALERT_ID),
        ),
    ] = None,
    ward_code: Annotated[
        str | None,
        Query(
            pattern=schemas.WARD_CODE_PATTERN,
            description="Only alerts touching this ward: by its code, or by a circle or "
            "polygon over it (when ward boundaries are configured)",
            openapi_examples=openapi_examples(a_ward="E05013806"),
        ),
    ] = None,
    borough_code: Annotated[
        str | None,
        Query(
            pattern=schemas.BOROUGH_CODE_PATTERN,
            description="Only alerts touching this borough: by its code, a ward in it, or a "
            "shape over it",
            openapi_examples=openapi_examples(camden="E09000007"),
        ),
    ] = None,
    created_from: Annotated[
        datetime | None,
        Query(
            description="Only alerts written at or after this time",
            openapi_examples=openapi_examples(november="2026-11-01T00:00:00+00:00"),
        ),
    ] = None,
    created_before: Annotated[
        datetime | None,
        Query(
            description="Only alerts written before this time",
            openapi_examples=openapi_examples(december="2026-12-01T00:00:00+00:00"),
        ),
    ] = None,
) -> list[schemas.Alert]:
    filters = AlertFilters(
        state=status,
        crime_type=crime_type,
        msg_type=msg_type,
        author_id=author_id,
        ward_code=ward_code,
        borough_code=borough_code,
        created_from=created_from,
        created_before=created_before,
    )
    alerts = await service.list_newest_first(
        filters=filters, limit=limit, offset=offset, cursor=decode_cursor(cursor, offset=offset)
    )
    announce_if_full(request, response, alerts, limit)
    return [schemas.Alert.from_model(alert) for alert in alerts]
