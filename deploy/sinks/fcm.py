"""A local stand-in for Firebase Cloud Messaging: the OAuth2 token endpoint and the HTTP v1
messages:send endpoint, keeping every message it accepts.

    python -m deploy.sinks.fcm --port 8026 --service-account .devstack/fcm-service-account.json

The token endpoint (``POST /token``) checks the JWT bearer grant as Google does: RS256, signed
by the service account's private key (checked with its public key), ``iss`` its
``client_email``, ``aud`` the token URL, the firebase.messaging scope, and not expired; then it
issues an opaque access token. ``POST /v1/projects/{project}/messages:send`` wants that token
(401 otherwise), the configured project (403), a ``message.token`` and a payload within 4 KB
(400 ``INVALID_ARGUMENT``); a token marked unregistered (:meth:`FcmSink.unregister`, or
``POST /unregistered``) gets 404 ``UNREGISTERED``. Accepted messages are listed at
``GET /messages?token=...``.

Faults (:mod:`deploy.sinks.http`): for one registration token or all, at ``POST /faults``.
HTTP/1.1 only (see :mod:`deploy.sinks.http`).

:func:`new_service_account` writes a fresh key for dev and tests: the sink needs only its
public half, and reads it from the same file.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from deploy.sinks import AFTER_DESCRIPTION, ReceivedLog
from deploy.sinks.http import (
    TARGET_MAX_LENGTH,
    EmbeddedHttpServer,
    HttpFault,
    HttpFaultBook,
    add_control_routes,
    apply_fault,
    install_drop_handler,
)
from deploy.sinks.running import run_sink
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_PAYLOAD_BYTES = 4096
DEFAULT_MAX_MESSAGES = 100_000
DEFAULT_TOKEN_LIFETIME_S = 3600
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
FCM_ERROR_CODES = {
    400: "INVALID_ARGUMENT",
    403: "SENDER_ID_MISMATCH",
    404: "UNREGISTERED",
    429: "QUOTA_EXCEEDED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def new_service_account(path: Path, *, project_id: str = "tawny-dev") -> dict[str, str]:
    """Write a new service-account key (as Google's JSON) to ``path`` and return it."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    key = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": f"tawny-dispatch@{project_id}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**20)),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(key, indent=2))
    path.chmod(0o600)
    return key


def fcm_error(status: int, message: str, *, code: str | None = None) -> dict[str, Any]:
    """An error body as FCM writes it."""
    error_code = code or FCM_ERROR_CODES.get(status, "UNSPECIFIED_ERROR")
    return {
        "error": {
            "code": status,
            "message": message,
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
            "details": [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}],
        }
    }


class ReceivedPush(BaseModel):
    name: str = Field(description="The message's name, as the send returned it")
    token: str = Field(description="The registration token it was sent to")
    message: dict[str, Any] = Field(description="The whole message as sent")
    payload_bytes: int = Field(description="Size of the message without its token, in bytes")
    received_at: datetime


class FcmSink:
    """The FCM stand-in on the running event loop. ``port=0`` binds a free port."""

    def __init__(
        self,
        *,
        service_account: dict[str, str],
        project_id: str,
        host: str = "127.0.0.1",
        port: int = 0,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S,
    ) -> None:
        private_key = serialization.load_pem_private_key(
            service_account["private_key"].encode(), password=None
        )
        self.client_email = service_account["client_email"]
        self.public_key = private_key.public_key()
        self.project_id = project_id
        self.token_lifetime_s = token_lifetime_s
        self.faults = HttpFaultBook()
        self.unregistered: set[str] = set()
        self._messages: ReceivedLog[ReceivedPush] = ReceivedLog(max_messages)
        self._access_tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.app = self._build_app()
        self._server = EmbeddedHttpServer(self.app, host=host, port=port, name="fcm-sink")

    # --- for tests -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def messages(self) -> list[ReceivedPush]:
        return list(self._messages)

    def messages_to(self, token: str) -> list[ReceivedPush]:
        return [m for m in self._messages if m.token == token]

    def unregister(self, token: str) -> None:
        self.unregistered.add(token)

    def add_fault(self, fault: HttpFault) -> None:
        self.faults.add(fault)

    def revoke_access_tokens(self) -> None:
        """Forget every access token issued (as if they expired early)."""
        self._access_tokens.clear()

    # --- the API -----------------------------------------------------------------------------

    def _check_assertion(self, assertion: str, audience: str) -> str | None:
        """None if the grant is good, or why not."""
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=audience,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.PyJWTError as error:
            return f"invalid assertion: {error}"
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return "the assertion does not ask for the firebase.messaging scope"
        return None

    def _bearer_ok(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expires = self._access_tokens.get(token)
        return scheme.lower() == "bearer" and expires is not None and expires > time.time()

    def _build_app(self) -> FastAPI:
        app = FastAPI(
            title="Tawny FCM sink",
            description="A local FCM HTTP v1 API and OAuth2 token endpoint that keeps messages.",
            version="0.1.0",
        )
        install_drop_handler(app)

        @app.post("/token", summary="Exchange a service account's signed JWT for a token")
        async def token(
            request: Request,
            grant_type: Annotated[str, Form(max_length=200)],
            assertion: Annotated[str, Form(max_length=10_000)],
        ) -> JSONResponse:
            if grant_type != JWT_BEARER_GRANT:
                return JSONResponse(
                    {"error": "unsupported_grant_type", "error_description": grant_type},
                    status_code=400,
                )
            problem = self._check_assertion(assertion, str(request.url))
            if problem is not None:
                log.warning("fcm_sink.grant_refused", reason=problem)
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": problem}, status_code=400
                )
            access_token = secrets.token_urlsafe(32)
            self._access_tokens[access_token] = time.time() + self.token_lifetime_s
            self.tokens_issued += 1
            return JSONResponse(
                {
                    "access_token": access_token,
                    "expires_in": self.token_lifetime_s,
                    "token_type": "Bearer",
                }
            )

        @app.post(
            "/v1/projects/{project_id}/messages:send",
            summary="Send one message to one registration token",
        )
        async def send(project_id: str, request: Request) -> JSONResponse:
            if not self._bearer_ok(request):
                return JSONResponse(
                    fcm_error(401, "Request had invalid authentication credentials."),
                    status_code=401,
                )
            if project_id != self.project_id:
                return JSONResponse(
                    fcm_error(
                        403, "Permission denied for this project.", code="THIRD_PARTY_AUTH_ERROR"
                    ),
                    status_code=403,
                )
            try:
                body = await request.json()
                message = body["message"]
                registration_token = str(message["token"])
            except (ValueError, KeyError, TypeError):
                return JSONResponse(fcm_error(400, "The message has no token."), status_code=400)
            fault = self.faults.take(registration_token)
            faulty = await apply_fault(
                fault, request, lambda status: fcm_error(status, "Fault injected by the sink.")
            )
            if faulty is not None:
                return faulty
            if registration_token in self.unregistered or len(registration_token) > 4096:
                return JSONResponse(
                    fcm_error(404, "Requested entity was not found."), status_code=404
                )
            without_token = {k: v for k, v in message.items() if k != "token"}
            size = len(json.dumps(without_token, ensure_ascii=False).encode())
            if size > MAX_PAYLOAD_BYTES:
                return JSONResponse(
                    fcm_error(400, f"Message is too big: {size} bytes."), status_code=400
                )
            name = f"projects/{project_id}/messages/{uuid.uuid4().int >> 64}"
            self._messages.append(
                ReceivedPush(
                    name=name,
                    token=registration_token,
                    message=message,
                    payload_bytes=size,
                    received_at=utcnow(),
                )
            )
            log.info("fcm_sink.message_received", name=name, size=size)
            return JSONResponse({"name": name})

        @app.get("/messages", summary="Messages accepted, oldest first")
        async def list_messages(
            token: Annotated[
                str | None,
                Query(max_length=TARGET_MAX_LENGTH, description="Only those to this token"),
            ] = None,
            after: Annotated[int, Query(ge=0, description=AFTER_DESCRIPTION)] = 0,
        ) -> list[ReceivedPush]:
            found = self._messages.after(after)
            return found if token is None else [m for m in found if m.token == token]

        @app.delete("/messages", status_code=204, summary="Forget every message")
        async def clear_messages() -> Response:
            self._messages.clear()
            return Response(status_code=204)

        @app.post("/unregistered", status_code=204, summary="Answer 404 for this token from now")
        async def unregister(
            token: Annotated[str, Query(max_length=TARGET_MAX_LENGTH)],
        ) -> Response:
            self.unregister(token)
            return Response(status_code=204)

        add_control_routes(app, self.faults, target="token")

        return app

    async def start(self) -> None:
        await self._server.start()
        log.info("fcm_sink.started", url=self.url, project_id=self.project_id)

    async def stop(self) -> None:
        await self._server.stop()

    async def __aenter__(self) -> FcmSink:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local FCM HTTP v1 API that keeps messages.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument(
        "--service-account",
        type=Path,
        required=True,
        help="the service-account key (JSON) whose public half checks token requests",
    )
    parser.add_argument("--project-id", default="tawny-dev")
    args = parser.parse_args(argv)

    def build() -> FcmSink:
        return FcmSink(
            service_account=json.loads(args.service_account.read_text()),
            project_id=args.project_id,
            host=args.host,
            port=args.port,
        )

    run_sink("fcm-sink", build)


if __name__ == "__main__":
    main()
