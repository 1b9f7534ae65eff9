"""HTTP routes for a member's own subscriptions (areas watched, with filters)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Response, status

from services.geo.dependencies import SettingsDep
from services.geo.routing import AreaBodyCappedRoute
from services.geo.subscriptions.schemas import (
    Subscription,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from services.geo.subscriptions.service import SubscriptionService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], route_class=AreaBodyCappedRoute)


def subscription_service(session: SessionDep) -> SubscriptionService:
    return SubscriptionService(session)


SubscriptionServiceDep = Annotated[SubscriptionService, Depends(subscription_service)]

SubscriptionId = Annotated[
    uuid.UUID,
    Path(
        description="The id from POST or GET /subscriptions",
        openapi_examples=openapi_examples(a_subscription="8a0f5c8e-3f43-4d8e-9a55-2f1f7c3b9e10"),
    ),
]

_CREATE_EXAMPLES = openapi_examples(
    one_ward={"ward_code": "E05013806"},
    ward_and_neighbours={"kind": "neighbours", "ward_code": "E05013806"},
    circle_round_the_office={
        "kind": "circle",
        "circle": {"lat": 51.5155, "lon": -0.0922, "radius_m": 800},
        "label": "Office",
        "categories": ["robbery", "theft_from_person"],
        "min_severity": "Moderate",
    },
    drawn_area={
        "kind": "polygon",
        "polygon": {
            "type": "Polygon",
            "coordinates": [
                [[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.51], [-0.13, 51.50]]
            ],
        },
    },
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Watch an area: a ward, a ward and its neighbours, a circle or a drawn polygon",
    description="Any signed-in member. Wards must be in the current boundary set; a circle's "
    "radius is 100 m to 5 km; a polygon must be valid (not self-intersecting), inside the UK, "
    "of at most 10,000 vertices and limited in area. Optional filters: crime types and a "
    "minimum severity.",
    responses=problem_responses(401, 409, 413, 422),
)
async def subscribe(
    body: Annotated[SubscriptionCreate, Body(openapi_examples=_CREATE_EXAMPLES)],
    subscriptions: SubscriptionServiceDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> Subscription:
    return await subscriptions.subscribe(principal.member_id, body, settings=settings)


@router.get("", summary="My subscriptions", responses=problem_responses(401))
async def list_my_subscriptions(
    subscriptions: SubscriptionServiceDep, principal: CurrentPrincipal
) -> list[Subscription]:
    return await subscriptions.list_mine(principal.member_id)


@router.patch(
    "/{subscription_id}",
    summary="Change a subscription's filters or label (only my own)",
    responses=problem_responses(401, 404, 422),
)
async def update_subscription(
    subscription_id: SubscriptionId,
    body: Annotated[
        SubscriptionUpdate,
        Body(
            openapi_examples=openapi_examples(
                only_serious={"min_severity": "Severe"},
                every_category={"all_categories": True},
            )
        ),
    ],
    subscriptions: SubscriptionServiceDep,
    principal: CurrentPrincipal,
) -> Subscription:
    return await subscriptions.update(principal.member_id, subscription_id, body)


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe (only from my own subscriptions)",
    responses=problem_responses(401, 404, 422),
    response_class=Response,
)
async def unsubscribe(
    subscription_id: SubscriptionId,
    subscriptions: SubscriptionServiceDep,
    principal: CurrentPrincipal,
) -> Response:
    await subscriptions.unsubscribe(principal.member_id, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete all my subscriptions",
    responses=problem_responses(401),
    response_class=Response,
)
async def unsubscribe_everything(
    subscriptions: SubscriptionServiceDep, principal: CurrentPrincipal
) -> Response:
    await subscriptions.erase_member(principal.member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
