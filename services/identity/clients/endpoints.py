"""API clients for other police systems, and the OAuth2 client-credentials token endpoint."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response, status

from services.identity.clients.schemas import (
    ApiClient,
    ApiClientCreate,
    ApiClientWithSecret,
    ClientToken,
)
from services.identity.clients.service import ApiClientService
from services.identity.dependencies import MemberAdminDep, SettingsDep
from services.identity.errors import InvalidClientError, UnsupportedGrantError
from shared import idempotency
from shared.errors import UnprocessableError, problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["api clients"])

FORM_MAX_BYTES = 2_000
FIELD_MAX_LENGTH = 200
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _with_secret(client: Any, secret: str) -> ApiClientWithSecret:
    return ApiClientWithSecret(
        **ApiClient.model_validate(client).model_dump(), client_secret=secret
    )


@router.post(
    "/api-clients",
    status_code=status.HTTP_201_CREATED,
    summary="Register an API client for another police system (platform and org admins)",
    description="The secret is in this response only; identity keeps its hash. Audited.",
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=idempotency.SECRET_IN_ANSWER,
)
async def create_client(
    body: Annotated[
        ApiClientCreate,
        Body(
            openapi_examples=openapi_examples(
                control_room={
                    "name": "Met control room CAD",
                    "organisation_id": "0b7f3c52-8c1e-4f7e-9d0a-2c5d3f1e6a90",
                    "scopes": ["alerts:write", "cap:write"],
                }
            )
        ),
    ],
    caller: MemberAdminDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> ApiClientWithSecret:
    client, secret = await ApiClientService(session, settings).create(caller, body)
    response.headers["Cache-Control"] = "no-store"
    return _with_secret(client, secret)


@router.get(
    "/api-clients",
    summary="List API clients, with when each was last used (platform and org admins)",
    responses=problem_responses(401, 403),
)
async def list_clients(
    caller: MemberAdminDep, session: SessionDep, settings: SettingsDep
) -> list[ApiClient]:
    clients = await ApiClientService(session, settings).list(caller)
    return [ApiClient.model_validate(client) for client in clients]


@router.post(
    "/api-clients/{client_id}/secret-rotation",
    summary="Give an API client a new secret; the old one stops working at once",
    responses=problem_responses(401, 403, 404, 422),
)
async def rotate_secret(
    client_id: uuid.UUID,
    caller: MemberAdminDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> ApiClientWithSecret:
    client, secret = await ApiClientService(session, settings).rotate_secret(caller, client_id)
    response.headers["Cache-Control"] = "no-store"
    return _with_secret(client, secret)


@router.delete(
    "/api-clients/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API client (tokens already issued lapse within 15 minutes)",
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_client(
    client_id: uuid.UUID, caller: MemberAdminDep, session: SessionDep, settings: SettingsDep
) -> Response:
    await ApiClientService(session, settings).revoke(caller, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise InvalidClientError() from error
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise InvalidClientError()
    return urllib.parse.unquote(client_id), urllib.parse.unquote(secret)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_CONTENT_TYPE:
        raise UnprocessableError(f"Send the token request as {FORM_CONTENT_TYPE}.")
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        raise UnprocessableError(f"The token request is larger than {FORM_MAX_BYTES} bytes.")
    try:
        fields = urllib.parse.parse_qs(body.decode(), strict_parsing=False, max_num_fields=10)
    except (UnicodeDecodeError, ValueError) as error:
        raise UnprocessableError("The token request is not a valid form.") from error
    form = {name: values[0] for name, values in fields.items()}
    if any(len(value) > FIELD_MAX_LENGTH for value in form.values()):
        raise UnprocessableError(f"Form fields have at most {FIELD_MAX_LENGTH} characters.")
    return form


@router.post(
    "/oauth/token",
    summary="OAuth2 client credentials: an API client exchanges its id and secret for a token",
    description=(
        "RFC 6749 4.4. Form-encoded `grant_type=client_credentials`, with the credentials in "
        "HTTP Basic or as `client_id` and `client_secret` fields, and an optional `scope` "
        "narrowing the client's scopes. The token carries `scope`, `org` and `area`."
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                FORM_CONTENT_TYPE: {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "client_id": {"type": "string", "maxLength": FIELD_MAX_LENGTH},
                            "client_secret": {"type": "string", "maxLength": FIELD_MAX_LENGTH},
                            "scope": {"type": "string", "maxLength": FIELD_MAX_LENGTH},
                        },
                    },
                    "example": {
                        "grant_type": "client_credentials",
                        "client_id": "3f0c2a8e-5b7d-4c1e-9a2f-6d8b0e4c7a13",
                        "client_secret": "…",
                        "scope": "cap:write",
                    },
                }
            },
            "required": True,
        }
    },
    responses=problem_responses(400, 401, 422, 503),
)
async def client_token(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> ClientToken:
    form = await _form(request)
    if form.get("grant_type") != "client_credentials":
        raise UnsupportedGrantError()
    credentials = _basic_credentials(request) or (
        form.get("client_id", ""),
        form.get("client_secret", ""),
    )
    if not all(credentials):
        raise InvalidClientError()
    issued = await ApiClientService(session, settings).issue(*credentials, form.get("scope"))
    response.headers["Cache-Control"] = "no-store"
    return ClientToken(
        access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
    )
