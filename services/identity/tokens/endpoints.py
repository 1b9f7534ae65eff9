"""Signing in, and the public keys that let every service check identity's tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from services.identity.dependencies import SettingsDep
from services.identity.tokens.schemas import AccessToken, JsonWebKeySet, TokenCreate
from services.identity.tokens.service import SigningKeyService, TokenService
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["tokens"])

# Long enough to spare identity, short enough that a new key is picked up within a minute.
JWKS_CACHE_CONTROL = "public, max-age=60"


@router.post(
    "/tokens",
    summary="Sign in: exchange an email address and password for an access token",
    description=(
        "A wrong address and a wrong password give the same 401. A member whose address is "
        "not verified yet gets 403."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def sign_in(
    body: Annotated[
        TokenCreate,
        Body(
            openapi_examples=openapi_examples(
                member={"email": "sam@example.com", "password": "correct horse battery"}
            )
        ),
    ],
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> AccessToken:
    issued = await TokenService(session, settings).sign_in(body.email, body.password)
    # RFC 6749 5.1: responses carrying tokens must not be cached anywhere.
    response.headers["Cache-Control"] = "no-store"
    return AccessToken(access_token=issued.access_token, expires_in=issued.expires_in)


@router.get(
    "/.well-known/jwks.json",
    summary="The public keys that verify identity's access tokens (JWKS)",
    responses=problem_responses(503),
)
async def jwks(response: Response, session: SessionDep) -> JsonWebKeySet:
    key_set = await SigningKeyService(session).public_keys()
    response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
    return key_set
