"""Web push for members: the key browsers subscribe with, and their subscription."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.dispatch.channels.webpush import ENDPOINT_MAX_LENGTH, WebPushChannel
from services.dispatch.config import DispatchSettings
from services.dispatch.webpush import schemas
from services.dispatch.webpush.service import WebPushSubscriptionService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["web push"])


def webpush_channel(request: Request) -> WebPushChannel:
    channel = request.app.state.webpush_channel
    assert isinstance(channel, WebPushChannel)
    return channel


def subscription_service(request: Request, session: SessionDep) -> WebPushSubscriptionService:
    settings = request.app.state.settings
    assert isinstance(settings, DispatchSettings)
    return WebPushSubscriptionService(
        session,
        insecure_origins=settings.webpush_insecure_origin_list,
        devices_per_channel=settings.devices_per_channel,
    )


WebPushChannelDep = Annotated[WebPushChannel, Depends(webpush_channel)]
SubscriptionServiceDep = Annotated[WebPushSubscriptionService, Depends(subscription_service)]


@router.get(
    "/webpush/vapid-public-key",
    summary="The key browsers subscribe with",
    description="Public. The platform's VAPID public key, to pass as applicationServerKey to "
    "pushManager.subscribe() in the browser; push services accept alerts for the subscription "
    "only when signed with the matching private key.",
    responses=problem_responses(),
)
async def vapid_public_key(channel: WebPushChannelDep) -> schemas.VapidPublicKey:
    return schemas.VapidPublicKey(application_server_key=channel.signer.application_server_key)


@router.put(
    "/endpoints/me/webpush",
    summary="Receive alerts in this browser",
    description="Any signed-in member. The body is the browser's PushSubscription.toJSON(). "
    "Each browser is an endpoint of its own, beside the member's others (at most "
    "`DISPATCH_DEVICES_PER_CHANNEL`: 409 past that, remove one first); registering the same "
    "subscription again (the same `endpoint` URL) only updates its keys, so a browser may "
    "register on every visit. The endpoint must be https (an http origin only where the "
    "deployment allows it); the keys must be a P-256 public key and a 16-octet secret, in "
    "base64url.",
    responses=problem_responses(401, 409, 422),
)
async def subscribe(
    subscription: schemas.WebPushSubscriptionIn,
    principal: CurrentPrincipal,
    service: SubscriptionServiceDep,
) -> schemas.WebPushSubscriptionOut:
    recorded, endpoint = await service.subscribe(principal.member_id, subscription)
    return schemas.WebPushSubscriptionOut(
        id=endpoint.id, push_service=recorded.origin, enabled=endpoint.disabled_at is None
    )


@router.delete(
    "/endpoints/me/webpush",
    status_code=204,
    summary="Stop alerts in a browser",
    description="Any signed-in member. With `endpoint` (the subscription's endpoint URL, as "
    "the browser knows it), forgets that browser's subscription only; without it, every "
    "browser of the member's. Nothing is pushed to a forgotten subscription any more. "
    "Succeeds also when there was none. One browser of several is also removed by its id: "
    "`DELETE /endpoints/me/webpush/{endpoint_id}`.",
    responses=problem_responses(401, 422),
)
async def unsubscribe(
    principal: CurrentPrincipal,
    service: SubscriptionServiceDep,
    endpoint: Annotated[
        str | None,
        Query(
            max_length=ENDPOINT_MAX_LENGTH,
            description="The subscription's endpoint URL: only this browser",
            examples=["https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk-example"],
        ),
    ] = None,
) -> Response:
    await service.unsubscribe(principal.member_id, endpoint=endpoint)
    return Response(status_code=204)
