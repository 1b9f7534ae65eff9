"""Members' replies and usefulness marks; the authoring team's inbox and per-alert stats."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from services.alerts.authoring.endpoints import AlertId
from services.alerts.dependencies import AlertsSettingsDep, Staff
from services.alerts.feedback import schemas
from services.alerts.feedback.service import FeedbackService
from services.alerts.images.processing import read_picture_form
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.pagination import CursorParam, announce_if_full, decode_cursor
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/alerts", tags=["feedback"])


def feedback_service(session: SessionDep, settings: AlertsSettingsDep) -> FeedbackService:
    return FeedbackService(session, settings=settings)


FeedbackServiceDep = Annotated[FeedbackService, Depends(feedback_service)]
ReplyId = Annotated[
    uuid.UUID,
    Path(
        description="The reply's id",
        openapi_examples=openapi_examples(a_reply="2b1f7c1e-8a43-4c2e-9d53-0f6f1b9e2a11"),
    ),
]


@router.put(
    "/{alert_id}/usefulness",
    status_code=204,
    summary="Mark an alert useful or not",
    description="Any signed-in member, for a published alert; marking again replaces the mark.",
    responses=problem_responses(401, 403, 404, 422),
)
async def mark_alert(
    member: CurrentPrincipal,
    service: FeedbackServiceDep,
    alert_id: AlertId,
    data: Annotated[
        schemas.UsefulnessMark, Body(openapi_examples=openapi_examples(useful={"useful": True}))
    ],
) -> Response:
    await service.mark(alert_id, member=member, useful=data.useful)
    return Response(status_code=204)


@router.post(
    "/{alert_id}/replies",
    status_code=201,
    summary="Reply to an alert",
    description="Members whose address is verified (token vl address or identity; 403 "
    "otherwise), for a published alert that was not cancelled. The authoring team sees your "
    "pseudonym only. Limited per member per hour (429). Attach a photo afterwards with "
    "POST /alerts/{alert_id}/replies/{reply_id}/photo.",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
async def reply_to_alert(
    member: CurrentPrincipal,
    service: FeedbackServiceDep,
    alert_id: AlertId,
    data: Annotated[
        schemas.ReplyCreate,
        Body(openapi_examples=openapi_examples(sighting={"text": "I saw a grey van at 2am."})),
    ],
) -> schemas.ReplyOut:
    reply = await service.reply(alert_id, member=member, text=data.text)
    return schemas.ReplyOut.from_model(reply)


@router.get(
    "/{alert_id}/replies",
    summary="The replies to an alert, newest first",
    description="Staff only. Page with `cursor` (the next page's address is in the `Link` "
    "rel=next and `Next-Cursor` headers); `offset` still works (deprecated).",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def alert_replies(
    request: Request,
    response: Response,
    _staff: Staff,
    service: FeedbackServiceDep,
    alert_id: AlertId,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200, openapi_examples=openapi_examples(a_page=50))] = 50,
    offset: Annotated[
        int, Query(ge=0, le=100_000, openapi_examples=openapi_examples(next_page=50))
    ] = 0,
) -> list[schemas.ReplyOut]:
    replies, with_photos = await service.replies(
        alert_id, limit=limit, offset=offset, cursor=decode_cursor(cursor, offset=offset)
    )
    announce_if_full(request, response, replies, limit)
    return [
        schemas.ReplyOut.from_model(reply, has_photo=reply.id in with_photos) for reply in replies
    ]


@router.post(
    "/{alert_id}/replies/{reply_id}/photo",
    status_code=204,
    summary="Attach a photo to your reply",
    description="The reply's writer, once per reply. JPEG, PNG or WebP as multipart/form-data "
    "(field file); re-encoded so that EXIF (GPS position included), XMP and comments are "
    "removed. Too large (413), not an accepted type (415), too many pixels or unreadable (422).",
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def attach_reply_photo(
    request: Request,
    member: CurrentPrincipal,
    service: FeedbackServiceDep,
    settings: AlertsSettingsDep,
    alert_id: AlertId,
    reply_id: ReplyId,
) -> Response:
    data, _form = await read_picture_form(request, settings)
    await service.attach_photo(alert_id, reply_id, member=member, data=data)
    return Response(status_code=204)


@router.get(
    "/{alert_id}/replies/{reply_id}/photo",
    summary="The photo attached to a reply",
    description="Staff only. Stored without any of the original file's metadata.",
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
    },
)
async def reply_photo(
    _staff: Staff, service: FeedbackServiceDep, alert_id: AlertId, reply_id: ReplyId
) -> Response:
    photo = await service.photo(alert_id, reply_id)
    return Response(
        photo.data,
        media_type=photo.mime_type,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post(
    "/{alert_id}/replies/{reply_id}/answer",
    summary="Answer a member's reply",
    description="Staff only; a reply is answered once.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def answer_reply(
    staff: Staff,
    service: FeedbackServiceDep,
    alert_id: AlertId,
    reply_id: ReplyId,
    data: Annotated[
        schemas.ReplyAnswer,
        Body(openapi_examples=openapi_examples(thanks={"text": "Thank you, we will follow up."})),
    ],
) -> schemas.ReplyOut:
    reply = await service.answer(alert_id, reply_id, staff=staff, text=data.text)
    return schemas.ReplyOut.from_model(reply)


@router.get(
    "/{alert_id}/stats",
    summary="How an alert was received",
    description="Staff only. Recipients, sent, delivered and failed per channel (dispatch's "
    "latest report, for the original and each follow-up), replies, usefulness, follow-ups.",
    responses=problem_responses(401, 403, 404, 422),
)
async def alert_stats(
    _staff: Staff, service: FeedbackServiceDep, alert_id: AlertId
) -> schemas.AlertStats:
    return await service.stats(alert_id)
