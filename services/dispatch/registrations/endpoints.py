"""A member registers a UK mobile number (confirmed by a code sent to it) or an app
installation, and removes either."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.dispatch.channels.notify import NotifyClient
from services.dispatch.config import DispatchSettings
from services.dispatch.errors import WrongCodeError
from services.dispatch.members.schemas import Endpoint
from services.dispatch.members.service import MemberEndpointService
from services.dispatch.models import ChannelKind
from services.dispatch.registrations import schemas
from services.dispatch.registrations.service import CodeSettings, RegistrationService
from shared.auth import CurrentPrincipal
from shared.db import session_scope
from shared.errors import problem_responses
from shared.runtime import SessionDep, SessionsDep

router = APIRouter(prefix="/endpoints", tags=["endpoints"])


def registration_service(request: Request, session: SessionDep) -> RegistrationService:
    settings: DispatchSettings = request.app.state.settings
    notify: NotifyClient | None = request.app.state.notify_client
    return RegistrationService(
        session,
        notify=notify,
        codes=CodeSettings.from_settings(settings),
        devices_per_channel=settings.devices_per_channel,
    )


RegistrationServiceDep = Annotated[RegistrationService, Depends(registration_service)]


@router.put(
    "/me/sms",
    status_code=202,
    summary="Receive alerts by SMS on a UK mobile number",
    description="Any signed-in member. Sends a six-digit code to the number by SMS; the number "
    "is used once the code is entered (`POST /endpoints/me/sms/confirmation`) before it "
    "expires. Asking again replaces the code (at most one per `DISPATCH_SMS_CODE_RESEND_S`: "
    "429 with `Retry-After` before that). A number is sent at most "
    "`DISPATCH_SMS_CODES_PER_NUMBER` codes per `DISPATCH_SMS_CODE_LIMIT_WINDOW_MIN`, whichever "
    "members ask; past that the answer is the same 202 but no text is sent, so the answer never "
    "tells whether a number is limited or someone else's. 503 if the SMS provider can't take "
    "the message now.",
    responses=problem_responses(401, 422, 429, 503),
)
async def request_sms_code(
    principal: CurrentPrincipal,
    body: schemas.PhoneNumberIn,
    service: RegistrationServiceDep,
) -> schemas.PhoneConfirmationStarted:
    return await service.request_phone_code(principal.member_id, body.phone_number)


@router.post(
    "/me/sms/confirmation",
    summary="Confirm a mobile number with the code sent to it",
    description="Any signed-in member. The right code makes the number the member's SMS "
    "endpoint. A wrong one uses up a try (422, with `tries_left`); an expired code, or one "
    "with no tries left, answers 410: ask for a new one.",
    responses=problem_responses(401, 404, 410, 422),
)
async def confirm_sms(
    request: Request,
    principal: CurrentPrincipal,
    body: schemas.ConfirmationCodeIn,
    sessions: SessionsDep,
) -> Endpoint:
    # A transaction of its own, committed before a wrong code's error goes on: the used-up try
    # must stick although the request fails (``shared.runtime.independent_sessions``).
    async with session_scope(sessions, kept_on=(WrongCodeError,)) as session:
        service = registration_service(request, session)
        endpoint = await service.confirm_phone(principal.member_id, body.code)
    return Endpoint.from_model(endpoint)


@router.delete(
    "/me/sms",
    status_code=204,
    summary="Stop receiving alerts by SMS",
    description="Any signed-in member. Forgets the number (and any code waiting for "
    "confirmation). Answers 204 whether or not a number was registered.",
    responses=problem_responses(401),
)
async def remove_sms(principal: CurrentPrincipal, session: SessionDep) -> Response:
    await MemberEndpointService(session).remove(principal.member_id, ChannelKind.SMS)
    return Response(status_code=204)


@router.put(
    "/me/fcm",
    summary="Receive alerts as push notifications in the Tawny app",
    description="Any signed-in member. The FCM registration token of one of the member's app "
    "installations, an endpoint of its own beside their others (at most "
    "`DISPATCH_DEVICES_PER_CHANNEL`: 409 past that, remove one first); the same token "
    "registered again changes nothing. Used at once: the token comes from the app itself, "
    "and FCM answers 404 for one that is not (or no longer) valid, which disables that "
    "installation only.",
    responses=problem_responses(401, 409, 422),
)
async def register_fcm(
    principal: CurrentPrincipal,
    body: schemas.FcmRegistrationIn,
    service: RegistrationServiceDep,
) -> Endpoint:
    return Endpoint.from_model(await service.register_fcm(principal.member_id, body.token))


@router.delete(
    "/me/fcm",
    status_code=204,
    summary="Stop receiving push notifications in every installation of the app",
    description="Any signed-in member. Forgets every registration token of the member's; 204 "
    "whether or not one was registered. One installation of several is removed by its id: "
    "`DELETE /endpoints/me/fcm/{endpoint_id}`.",
    responses=problem_responses(401),
)
async def remove_fcm(principal: CurrentPrincipal, session: SessionDep) -> Response:
    await MemberEndpointService(session).remove(principal.member_id, ChannelKind.FCM)
    return Response(status_code=204)
