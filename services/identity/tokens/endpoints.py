"""Signing in, refreshing, signing out, and the public keys that let every service check
identity's tokens."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, status

from services.identity.audit.service import AuditLog
from services.identity.config import IdentitySettings
from services.identity.dependencies import PlatformAdminDep, SettingsDep
from services.identity.tokens.schemas import (
    AccessToken,
    JsonWebKeySet,
    KeyRotation,
    RefreshTokenBody,
    TokenCreate,
)
from services.identity.tokens.service import IssuedToken, SigningKeyService, TokenService
from shared.errors import problem_responses
from shared.runtime import SessionDep, SessionsDep
from shared.web import openapi_examples

router = APIRouter(tags=["tokens"])

# Long enough to spare identity, short enough that a new key is picked up within a minute.
JWKS_CACHE_CONTROL = "public, max-age=60"
_EXAMPLE_REFRESH = "T1a8q0Zc4mVb2Nw7Ye5Rk3Hs9Ju6Lf1Dx0Gp4Ci8Bo2"


def client_ip(request: Request, settings: IdentitySettings) -> str | None:
    """The caller's IP: the direct peer, or behind a trusted proxy the last address it added to
    X-Forwarded-For (earlier entries are the client's own say-so). None when a trusted proxy
    did not say: then every caller would share the proxy's address, and throttling by it would
    let one attacker slow everybody down."""
    peer = request.client.host if request.client else None
    if peer is None or not settings.is_trusted_proxy(peer):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    candidate = forwarded.split(",")[-1].strip()[:64]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _token_response(issued: IssuedToken, response: Response) -> AccessToken:
    # RFC 6749 5.1: responses carrying tokens must not be cached anywhere.
    response.headers["Cache-Control"] = "no-store"
    return AccessToken(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        refresh_expires_in=issued.refresh_expires_in,
        roles=issued.roles,
        two_factor_enrolment_required=issued.two_factor_enrolment_required,
    )


@router.post(
    "/tokens",
    summary="Sign in: exchange an email address and password for an access and refresh token",
    description=(
        "A wrong address and a wrong password give the same 401. A member whose address is "
        "not verified yet gets 403. Staff with two-factor on also send `totp_code` (or a "
        "`recovery_code`), else 401 `two-factor-required`. Repeated failures are slowed down "
        "with 429 and `Retry-After`; nothing is ever locked."
    ),
    responses=problem_responses(401, 403, 422, 429, 503),
)
async def sign_in(
    body: Annotated[
        TokenCreate,
        Body(
            openapi_examples=openapi_examples(
                member={"email": "sam@example.com", "password": "correct horse battery"},
                staff={
                    "email": "pc.jones@example.com",
                    "password": "correct horse battery",
                    "totp_code": "492039",
                },
            )
        ),
    ],
    request: Request,
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> AccessToken:
    issued = await TokenService(session, settings, sessions).sign_in(
        body.email,
        body.password,
        client_ip=client_ip(request, settings),
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )
    return _token_response(issued, response)


@router.post(
    "/tokens/refresh",
    summary="Exchange a refresh token for a new access and refresh token",
    description=(
        "Each refresh token works once. Presenting one a second time revokes every token of "
        "its sign-in (it was copied). Suspended members cannot refresh."
    ),
    responses=problem_responses(401, 422, 503),
)
async def refresh(
    body: Annotated[
        RefreshTokenBody,
        Body(openapi_examples=openapi_examples(refresh={"refresh_token": _EXAMPLE_REFRESH})),
    ],
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> AccessToken:
    issued = await TokenService(session, settings, sessions).refresh(body.refresh_token)
    return _token_response(issued, response)


@router.post(
    "/tokens/revocation",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: revoke a refresh token and every token of its sign-in",
    description="Unknown tokens are ignored (RFC 7009). Access tokens lapse within 15 minutes.",
    responses=problem_responses(422),
)
async def revoke(
    body: Annotated[
        RefreshTokenBody,
        Body(openapi_examples=openapi_examples(sign_out={"refresh_token": _EXAMPLE_REFRESH})),
    ],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    await TokenService(session, settings).revoke(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/signing-keys/rotation",
    status_code=status.HTTP_201_CREATED,
    summary="Rotate the token-signing key (platform admins)",
    description=(
        "A new key is published in the JWKS at once and signs after "
        "IDENTITY_SIGNING_KEY_PUBLISH_AHEAD_S (so every service has fetched it first). The "
        "previous key stays published IDENTITY_SIGNING_KEY_GRACE_S longer, so tokens it signed "
        "keep verifying; then it is retired. Two keys are live meanwhile."
    ),
    responses=problem_responses(401, 403),
)
async def rotate_signing_key(
    caller: PlatformAdminDep, session: SessionDep, settings: SettingsDep
) -> KeyRotation:
    plan = await SigningKeyService(session, settings).rotate(
        publish_ahead=timedelta(seconds=settings.signing_key_publish_ahead_s),
        grace=timedelta(seconds=settings.signing_key_grace_s),
    )
    await AuditLog(session).record(
        "signing_key.rotated",
        actor_id=caller.member.id,
        subject=f"signing_key:{plan.kid}",
        details={
            "signs_from": plan.signs_from.isoformat(),
            "retiring": plan.retiring_kids,
            "retire_at": plan.retire_at.isoformat(),
        },
    )
    return KeyRotation(
        kid=plan.kid,
        signs_from=plan.signs_from,
        retiring_kids=plan.retiring_kids,
        retire_at=plan.retire_at,
    )


@router.get(
    "/.well-known/jwks.json",
    summary="The public keys that verify identity's access tokens (JWKS)",
    responses=problem_responses(503),
)
async def jwks(response: Response, session: SessionDep, settings: SettingsDep) -> JsonWebKeySet:
    key_set = await SigningKeyService(session, settings).public_keys()
    response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
    return key_set
