"""A member reads the alerts that reached them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.dispatch.inbox import schemas
from services.dispatch.inbox.service import InboxService
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.pagination import CursorParam, announce_next_page, decode_cursor
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/inbox", tags=["inbox"])

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Deep offsets are slow scans; nobody pages this far back through their own alerts.
MAX_OFFSET = 10_000


def inbox_service(session: SessionDep) -> InboxService:
    return InboxService(session)


InboxServiceDep = Annotated[InboxService, Depends(inbox_service)]


@router.get(
    "",
    summary="My inbox: the alerts that reached me, newest first",
    description="Any signed-in member. Every alert dispatch has delivered to the caller, or is "
    "delivering (also one waiting for the caller to verify an address), on any channel; "
    "updates and cancellations are messages of their own. Page with `cursor` (the next "
    "page's address is in the `Link` rel=next and `Next-Cursor` headers); `offset` still "
    "works (deprecated).",
    responses=problem_responses(400, 401, 422),
)
async def my_inbox(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    service: InboxServiceDep,
    cursor: CursorParam = None,
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
) -> list[schemas.InboxAlert]:
    entries = await service.page(
        principal.member_id,
        limit=limit,
        offset=offset,
        cursor=decode_cursor(cursor, offset=offset),
    )
    if len(entries) == limit:
        announce_next_page(request, response, (entries[-1].received_at, entries[-1].alert_id))
    return [schemas.InboxAlert.from_entry(entry) for entry in entries]


@router.get(
    "/{alert_id}",
    summary="One alert from my inbox",
    description="Any signed-in member, for an alert that reached them; any other id is 404.",
    responses=problem_responses(401, 404, 422),
)
async def my_inbox_alert(
    principal: CurrentPrincipal,
    service: InboxServiceDep,
    alert_id: Annotated[
        uuid.UUID,
        Path(
            description="The alert's id",
            openapi_examples=openapi_examples(an_alert="7f0c2a52-3c1e-4a5e-9a7b-2f4d8f7e1b10"),
        ),
    ],
) -> schemas.InboxAlert:
    return schemas.InboxAlert.from_entry(await service.one(principal.member_id, alert_id))
