"""An alert's pictures: uploaded by staff to a draft as multipart/form-data, re-encoded without
their metadata, served to anyone once the alert is public, and named in its CAP document."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from services.alerts.authoring.endpoints import AlertId, AlertServiceDep
from services.alerts.cap.service import is_public
from services.alerts.dependencies import AlertsSettingsDep, Staff, require_staff_from_request
from services.alerts.images.processing import read_picture_form
from services.alerts.images.schemas import ImageDescription, ImageOut
from services.alerts.images.service import ImageService
from services.alerts.models import MAX_IMAGES_PER_ALERT
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/alerts", tags=["images"])


def image_service(session: SessionDep, settings: AlertsSettingsDep) -> ImageService:
    return ImageService(session, settings=settings)


ImageServiceDep = Annotated[ImageService, Depends(image_service)]
Position = Annotated[
    int,
    Path(
        ge=1,
        le=MAX_IMAGES_PER_ALERT,
        description="The picture's number, 1 to 3",
        openapi_examples=openapi_examples(first=1),
    ),
]
PICTURE_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "description"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG or WebP",
                        },
                        "description": {
                            "type": "string",
                            "maxLength": 200,
                            "example": "CCTV still of the suspect's van",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/{alert_id}/images",
    status_code=201,
    summary="Add a picture to a draft alert",
    description="Its author, or an officer who answers for it; drafts only; at most three. "
    "JPEG, PNG or WebP as multipart/form-data (file, description). The picture is "
    "re-encoded: EXIF (GPS position included), XMP, comments and other metadata are removed. "
    "Too large (413), not an accepted type (415), too many pixels or unreadable (422).",
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422),
    openapi_extra=PICTURE_FORM,
)
async def add_image(
    request: Request,
    staff: Staff,
    service: ImageServiceDep,
    settings: AlertsSettingsDep,
    alert_id: AlertId,
) -> ImageOut:
    data, form = await read_picture_form(request, settings)
    description = ImageDescription.from_form(form.get("description")).description
    image = await service.add(alert_id, staff=staff, data=data, description=description)
    return ImageOut.from_model(image, base_url=settings.public_base_url)


@router.get(
    "/{alert_id}/images",
    summary="An alert's pictures",
    description="Anyone, for a published public alert (or any message of it); staff for any other.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_images(
    request: Request,
    alerts: AlertServiceDep,
    service: ImageServiceDep,
    settings: AlertsSettingsDep,
    alert_id: AlertId,
) -> list[ImageOut]:
    alert = await alerts.get(alert_id)
    if not is_public(await alerts.originals_of(alert) or alert):
        await require_staff_from_request(request)
    return [
        ImageOut.from_model(image, base_url=settings.public_base_url)
        for image in await service.of_alert(alert)
    ]


@router.get(
    "/{alert_id}/images/{position}",
    summary="One of an alert's pictures",
    description="Anyone, for a published public alert (or any message of it); staff for any "
    "other. The stored file, free of metadata.",
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
    },
)
async def get_image(
    request: Request,
    alerts: AlertServiceDep,
    service: ImageServiceDep,
    alert_id: AlertId,
    position: Position,
) -> Response:
    alert = await alerts.get(alert_id)
    public = is_public(await alerts.originals_of(alert) or alert)
    if not public:
        await require_staff_from_request(request)
    image = await service.get(alert, position)
    return Response(
        image.data,
        media_type=image.mime_type,
        headers={
            "ETag": f'"{image.sha1}"',
            "Cache-Control": "public, max-age=300" if public else "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="alert-image-{position}"',
        },
    )


@router.delete(
    "/{alert_id}/images/{position}",
    status_code=204,
    summary="Remove a picture from a draft alert",
    description="Its author, or an officer who answers for it; drafts only.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def remove_image(
    staff: Staff, service: ImageServiceDep, alert_id: AlertId, position: Position
) -> Response:
    await service.remove(alert_id, position, staff=staff)
    return Response(status_code=204)
