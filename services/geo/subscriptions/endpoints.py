"""HTTP routes for a member's own ward subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status

from services.geo.dependencies import SettingsDep
from services.geo.subscriptions import service
from services.geo.subscriptions.schemas import Subscription, SubscriptionCreate
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe to a ward's alerts",
    description="Any signed-in member. The ward must be in the current boundary set.",
    responses=problem_responses(401, 409, 422),
)
async def subscribe(
    body: Annotated[
        SubscriptionCreate,
        Body(openapi_examples=openapi_examples(st_jamess={"ward_code": "E05013806"})),
    ],
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> Subscription:
    return await service.subscribe(
        session,
        principal.member_id,
        body.ward_code,
        max_per_member=settings.max_subscriptions_per_member,
    )


@router.get(
    "",
    summary="My ward subscriptions",
    responses=problem_responses(401),
)
async def list_my_subscriptions(
    session: SessionDep, principal: CurrentPrincipal
) -> list[Subscription]:
    return await service.list_mine(session, principal.member_id)


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe (only from my own subscriptions)",
    responses=problem_responses(401, 404, 422),
    response_class=Response,
)
async def unsubscribe(
    subscription_id: Annotated[
        uuid.UUID,
        Path(
            description="The id from POST or GET /subscriptions",
            openapi_examples=openapi_examples(
                a_subscription="8a0f5c8e-3f43-4d8e-9a55-2f1f7c3b9e10"
            ),
        ),
    ],
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await service.unsubscribe(session, principal.member_id, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
