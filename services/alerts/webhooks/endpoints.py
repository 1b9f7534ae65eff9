"""Partners' delivery-status webhooks: an API client registers a URL and a secret, and Tawny
POSTs a signed callback whenever one of its alerts is approved, published, updated or
cancelled, and as its delivery totals change; the client reads each callback's fate in the
delivery log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from services.alerts.dependencies import AlertsSettingsDep
from services.alerts.webhooks import schemas
from services.alerts.webhooks.service import WebhookService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.pagination import CursorParam, announce_if_full, decode_cursor
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def webhook_service(session: SessionDep, settings: AlertsSettingsDep) -> WebhookService:
    return WebhookService(session, settings=settings)


WebhookServiceDep = Annotated[WebhookService, Depends(webhook_service)]
WebhookId = Annotated[
    uuid.UUID,
    Path(
        description="The webhook's id",
        openapi_examples=openapi_examples(a_webhook="2b7e6f0a-9c1d-4e3f-8a5b-6c7d8e9f0a1b"),
    ),
]
REGISTER_EXAMPLES = openapi_examples(
    every_event={
        "url": "https://cad.example.police.uk/tawny/callbacks",
        "secret": "whsec-7d1f0c4b8e2a49f6a3c5d7e9b1f3a5c7",
    },
    publication_only={
        "url": "https://cad.example.police.uk/tawny/published",
        "secret": "whsec-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "events": ["alert.published", "alert.cancelled"],
    },
)


@router.post(
    "",
    status_code=201,
    summary="Register a webhook for callbacks about your alerts",
    description="API clients with the scope cap:write or alerts:write. Callbacks are POSTed "
    "as JSON for each chosen event about alerts the client sent (`alert.approved`, "
    "`alert.published`, `alert.updated`, `alert.cancelled`, `alert.delivery_totals`), signed: "
    "`Tawny-Webhook-Signature: v1=<hex HMAC-SHA256 of timestamp + '.' + body>` keyed with the "
    "secret, `Tawny-Webhook-Timestamp`, `Tawny-Webhook-Id` (the same on every retry) and "
    "`Tawny-Webhook-Event`. Any 2xx answer acknowledges; anything else is retried with "
    "exponential back-off and jitter, then marked failed. At most 5 per client.",
    responses=problem_responses(401, 403, 422),
)
async def register_webhook(
    client: CurrentPrincipal,
    service: WebhookServiceDep,
    data: Annotated[schemas.WebhookCreate, Body(openapi_examples=REGISTER_EXAMPLES)],
) -> schemas.WebhookOut:
    return schemas.WebhookOut.from_model(await service.register(client, data))


@router.get(
    "",
    summary="Your webhooks",
    description="The calling API client's webhooks (never their secrets).",
    responses=problem_responses(401, 403),
)
async def list_webhooks(
    client: CurrentPrincipal, service: WebhookServiceDep
) -> list[schemas.WebhookOut]:
    return [schemas.WebhookOut.from_model(w) for w in await service.of_client(client)]


@router.delete(
    "/{webhook_id}",
    summary="Stop a webhook",
    description="No further callbacks are recorded for it; its delivery log stays readable.",
    responses=problem_responses(401, 403, 404),
)
async def deactivate_webhook(
    client: CurrentPrincipal, service: WebhookServiceDep, webhook_id: WebhookId
) -> schemas.WebhookOut:
    return schemas.WebhookOut.from_model(await service.deactivate(client, webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    summary="A webhook's delivery log, newest first",
    description="Every callback recorded for the webhook: what it said, its status (pending, "
    "delivered, failed), attempts, the last answer's status or error, and when the next "
    "attempt is due. Paged by cursor: the next page's address is in the `Link` (rel=next) "
    "and `Next-Cursor` headers.",
    responses=problem_responses(400, 401, 403, 404),
)
async def webhook_deliveries(
    request: Request,
    response: Response,
    client: CurrentPrincipal,
    service: WebhookServiceDep,
    webhook_id: WebhookId,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> list[schemas.WebhookDeliveryOut]:
    deliveries = await service.deliveries(
        client, webhook_id, limit=limit, cursor=decode_cursor(cursor)
    )
    announce_if_full(request, response, deliveries, limit)
    return [schemas.WebhookDeliveryOut.from_model(d) for d in deliveries]
