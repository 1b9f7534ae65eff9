"""Web push for members: the key browsers subscribe with, and their subscription."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.dispatch.channels.webpush import WebPushChannel
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
        session, insecure_origins=settings.webpush_insecure_origin_list
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
    "One browser per member: registering replaces the subscription of the browser registered "
    "before. The endpoint must be https (an http origin only where the deployment allows it); "
    "the keys must be a P-256 public key and a 16-octet secret, in base64url.",
    responses=problem_responses(401, 422),
)
async def subscribe(
    subscription: schemas.WebPushSubscriptionIn,
    principal: CurrentPrincipal,
    service: SubscriptionServiceDep,
) -> schemas.WebPushSubscriptionOut:
    recorded = await service.subscribe(principal.member_id, subscription)
    return schemas.WebPushSubscriptionOut(push_service=recorded.origin, enabled=True)


@router.delete(
    "/endpoints/me/webpush",
    status_code=204,
    summary="Stop alerts in the browser",
    description="Any signed-in member. Forgets the member's web push subscription; nothing is "
    "pushed to it any more. Succeeds also when there was none.",
    responses=problem_responses(401),
)
async def unsubscribe(principal: CurrentPrincipal, service: SubscriptionServiceDep) -> Response:
    await service.unsubscribe(principal.member_id)
    return Response(status_code=204)
