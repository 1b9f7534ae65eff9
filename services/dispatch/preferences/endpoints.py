"""A member's alert preferences, and the one-click unsubscribe links in alert emails."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse

from services.dispatch.config import DispatchSettings
from services.dispatch.errors import DispatchError
from services.dispatch.preferences.schemas import PreferencesDocument
from services.dispatch.preferences.service import PreferencesService
from services.dispatch.preferences.tokens import (
    TOKEN_MAX_LENGTH,
    UnsubscribeScope,
    UnsubscribeTokens,
)
from services.dispatch.rendering.email import category_label, page
from shared.auth import CurrentPrincipal
from shared.errors import problem_responses
from shared.runtime import SessionDep, runtime_of

router = APIRouter(tags=["preferences"])

ONE_CLICK = "One-Click"


def preferences_service(session: SessionDep) -> PreferencesService:
    return PreferencesService(session)


PreferencesServiceDep = Annotated[PreferencesService, Depends(preferences_service)]


def unsubscribe_tokens(request: Request) -> UnsubscribeTokens:
    settings = runtime_of(request).settings
    assert isinstance(settings, DispatchSettings)
    return UnsubscribeTokens(settings.unsubscribe_key_value)


TokensDep = Annotated[UnsubscribeTokens, Depends(unsubscribe_tokens)]
Token = Annotated[
    str,
    Query(
        min_length=1,
        max_length=TOKEN_MAX_LENGTH,
        description="The signed token from the email's link",
        examples=["0b0e8d1c-3f7a-4a52-9a1e-8f0f7d1c2b3a.YWxs.q1w2e3r4t5y6u7i8o9p0"],
    ),
]


@router.get(
    "/preferences/me",
    summary="My alert preferences",
    description="Any signed-in member. Channels per severity, quiet hours (London time), the "
    "daily digest, language and unsubscriptions; the defaults until the member changes them.",
    responses=problem_responses(401),
)
async def my_preferences(
    principal: CurrentPrincipal, service: PreferencesServiceDep
) -> PreferencesDocument:
    return PreferencesDocument.from_preferences(await service.of_member(principal.member_id))


@router.put(
    "/preferences/me",
    summary="Replace my alert preferences",
    description="Any signed-in member. Replaces every preference: a field left out takes its "
    "default. Applies to alerts that arrive from now on; an alert already waiting for quiet "
    "hours or a digest keeps its time.",
    responses=problem_responses(401, 422),
)
async def replace_my_preferences(
    document: PreferencesDocument, principal: CurrentPrincipal, service: PreferencesServiceDep
) -> PreferencesDocument:
    saved = await service.replace(principal.member_id, document.to_preferences())
    return PreferencesDocument.from_preferences(saved)


def _what(scope: UnsubscribeScope) -> tuple[str, str]:
    if scope.category is None:
        return "all Tawny alerts", "You will get no more alerts from Tawny, on any channel."
    label = category_label(scope.category).lower()
    return f"{label} alerts", f"You will get no more alerts about {label}; other alerts continue."


@router.get(
    "/unsubscribe",
    summary="Confirm an unsubscribe link",
    description="No sign-in: the signed token names the member and what to stop. Shows a page "
    "whose button POSTs the same link; following the link alone changes nothing (mail "
    "scanners open links).",
    response_class=HTMLResponse,
    responses=problem_responses(400, 422),
)
async def confirm_unsubscribe(token: Token, tokens: TokensDep) -> HTMLResponse:
    scope = tokens.verify(token)
    subject, what = _what(scope)
    return HTMLResponse(
        page(
            "unsubscribe_confirm",
            title=f"Stop {subject}?",
            what=what,
            action=f"?{urlencode({'token': token})}",
        )
    )


@router.post(
    "/unsubscribe",
    summary="Unsubscribe in one click (RFC 8058)",
    description="No sign-in: the signed token names the member and what to stop (one category "
    "or everything). The body is `List-Unsubscribe=One-Click`, as mail software and the "
    "confirmation page send it. Doing it again changes nothing more.",
    response_class=HTMLResponse,
    responses=problem_responses(400, 422),
)
async def unsubscribe(
    token: Token,
    tokens: TokensDep,
    service: PreferencesServiceDep,
    one_click: Annotated[
        str,
        Form(
            alias="List-Unsubscribe",
            max_length=32,
            description="Always `One-Click`",
            examples=[ONE_CLICK],
        ),
    ],
) -> HTMLResponse:
    if one_click != ONE_CLICK:
        raise DispatchError("The request must carry List-Unsubscribe=One-Click.")
    scope = tokens.verify(token)
    await service.unsubscribe(scope)
    subject, what = _what(scope)
    return HTMLResponse(page("unsubscribe_done", title=f"You have stopped {subject}", what=what))
