"""``Idempotency-Key`` on the POSTs that create something (status 201): a retried request
returns the first answer, never a second resource.

How (each service maps ``IdempotencyKeyMixin`` onto its own base and migration, and passes the
model to ``create_service_app``):

1. ``guard`` (a dependency of every route of the service's routers) acts on a POST with the
   header whose route answers 201. In the request's own transaction it claims
   ``(caller, key)`` with ``INSERT … ON CONFLICT DO NOTHING`` together with a fingerprint of
   the method, path and body. The claim therefore commits together with what the request
   creates, or not at all: a request that failed left no claim, and its retry runs afresh.
2. A concurrent retry's INSERT waits on the first one's uncommitted row (PostgreSQL's unique
   index does that), then finds it.
3. ``IdempotencyRecorder`` (ASGI middleware) stores the answer (status, body, content type,
   Location) on the claim once it has been sent.
4. A later request with the same key: the same fingerprint gets the stored answer again with
   ``Idempotent-Replayed: true``; a different body gets 422 ``idempotency-key-reused``; a
   claim whose answer is not stored yet (the first is still finishing) gets 409
   ``idempotency-key-in-flight`` with Retry-After.

Keys are per caller (the token's subject; requests without a token share one space) and kept
``IDEMPOTENCY_RETENTION`` (a day, as Stripe's; the table is pruned as claims are made).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import DateTime, Integer, LargeBinary, String, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from starlette.datastructures import UploadFile as StarletteUploadFile

from shared.db import utcnow
from shared.errors import TawnyError, problem_responses
from shared.logs import get_logger
from shared.runtime import SessionDep

log = get_logger(__name__)

HEADER = "Idempotency-Key"
HEADER_BYTES = HEADER.lower().encode()
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
ANONYMOUS = "anonymous"
IDEMPOTENCY_RETENTION = timedelta(hours=24)
# Claims pruned per new claim: enough to keep up, never a long statement in a request.
PRUNE_BATCH = 100
MAX_FINGERPRINTED_BODY = 32 * 1024 * 1024
STATE_KEY = "tawny_idempotency_claim"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class IdempotencyKeyMixin:
    """Columns of a service's ``idempotency_keys`` table."""

    __tablename__ = "idempotency_keys"

    if TYPE_CHECKING:

        def __init__(self, **columns: Any) -> None: ...

    caller: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=text("now()"), index=True
    )
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(1000))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


class IdempotencyKeyReusedError(TawnyError):
    status_code = 422
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


class IdempotencyKeyInFlightError(TawnyError):
    status_code = 409
    slug = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still being answered"


class IdempotencyKeyInvalidError(TawnyError):
    status_code = 400
    slug = "idempotency-key-invalid"
    title = "The Idempotency-Key is not valid"


class IdempotencyKeyUnsupportedError(TawnyError):
    status_code = 400
    slug = "idempotency-key-unsupported"
    title = "Idempotency-Key is not accepted here"


# ``openapi_extra`` of a creating route whose answer carries a secret shown once (an API
# client's secret, a TOTP seed): storing the answer to replay it would keep the secret at rest,
# so such a route refuses the header instead of honouring it.
EXTENSION_KEY = "x-tawny-idempotency"
SECRET_IN_ANSWER = {EXTENSION_KEY: "unsupported: the answer carries a secret shown once"}
HEADER_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: a request repeated with the same key and body gets "
    "the first answer again (header Idempotent-Replayed: true) and creates nothing more; "
    "the same key with another body is 422 idempotency-key-reused. Keys are 1 to 255 "
    "visible ASCII characters, per caller, kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "example": "5f0c8a7e-2d41-4b8e-9a53-0c6e1f2b7d94",
}


class IdempotentReplay(Exception):  # noqa: N818 (a signal carrying the stored answer)
    """Raised by the guard to answer with the stored response instead of running the route."""

    def __init__(
        self, status_code: int, body: bytes, content_type: str | None, location: str | None
    ):
        super().__init__("idempotent replay")
        self.status_code = status_code
        self.body = body
        self.content_type = content_type
        self.location = location


def _applies(request: Request) -> bool:
    if request.method != "POST" or HEADER.lower() not in request.headers:
        return False
    route = request.scope.get("route")
    if getattr(route, "status_code", None) != 201:
        return False
    if EXTENSION_KEY in (getattr(route, "openapi_extra", None) or {}):
        raise IdempotencyKeyUnsupportedError(
            f"{HEADER} is not accepted here: the answer carries a secret shown only once, "
            "which Tawny does not keep in order to replay it. Retry without the header."
        )
    return True


def _caller(request: Request) -> str:
    """The token's subject, read without verifying: the route's own dependency verifies it
    (and refuses the request before anything is stored when it is bad); a forged subject
    could only reach keys that are the forger's own, since the route refuses the forgery."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return ANONYMOUS
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return ANONYMOUS
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return str(subject)[:100] if isinstance(subject, str) and subject else ANONYMOUS


def guard(model: type[IdempotencyKeyMixin]) -> Any:
    """The dependency that claims a key (see the module). It takes the request's own session
    (FastAPI caches it per request), so the claim shares the route's transaction."""

    async def idempotency_guard(request: Request, session: SessionDep) -> None:
        if not _applies(request):
            return
        key = request.headers[HEADER]
        if not KEY_PATTERN.match(key):
            raise IdempotencyKeyInvalidError(
                f"{HEADER} is 1 to 255 visible ASCII characters (a UUID is ideal)."
            )
        body = await _fingerprinted_body(request)
        if len(body) > MAX_FINGERPRINTED_BODY:
            raise IdempotencyKeyInvalidError(f"{HEADER} is not accepted on a body this large.")
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
        ).hexdigest()
        caller = _caller(request)
        now = utcnow()
        await _prune(session, model, now)
        claimed = await session.execute(
            insert(model)
            .values(caller=caller, key=key, fingerprint=fingerprint, created_at=now)
            .on_conflict_do_nothing()
            .returning(model.key)
        )
        if claimed.first() is not None:
            request.scope.setdefault("state", {})[STATE_KEY] = (caller, key)
            return
        stored = (
            await session.execute(select(model).where(model.caller == caller, model.key == key))
        ).scalar_one()
        if stored.fingerprint != fingerprint:
            raise IdempotencyKeyReusedError(
                f"This {HEADER} was first used with a different method, path or body; use a "
                "new key for a new request.",
                key=key[:255],
            )
        if stored.status_code is None or stored.body is None:
            raise IdempotencyKeyInFlightError(
                "The first request with this key is still being answered; retry shortly.",
                headers={"Retry-After": "1"},
                key=key[:255],
            )
        log.info("idempotency.replayed", caller=caller, path=request.url.path)
        raise IdempotentReplay(
            stored.status_code, stored.body, stored.content_type, stored.location
        )

    return Depends(idempotency_guard)


async def _prune(session: AsyncSession, model: type[IdempotencyKeyMixin], now: datetime) -> None:
    expired = (
        select(model.key)
        .where(model.created_at < now - IDEMPOTENCY_RETENTION)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        delete(model).where(
            model.created_at < now - IDEMPOTENCY_RETENTION,
            model.key.in_(expired.scalar_subquery()),
        )
    )


class IdempotencyRecorder:
    """ASGI middleware: stores the answer to a claimed request once it has been sent (see the
    module). Only a 2xx is stored: anything else rolled the claim back with the request."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        model: type[IdempotencyKeyMixin],
        sessions: Callable[[], async_sessionmaker[AsyncSession] | None],
    ) -> None:
        self.app = app
        self.model = model
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not any(name == HEADER_BYTES for name, _ in scope.get("headers", []))
        ):
            await self.app(scope, receive, send)
            return
        answer: dict[str, Any] = {"body": bytearray()}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
                answer["content_type"] = headers.get("content-type")
                answer["location"] = headers.get("location")
            elif message["type"] == "http.response.body":
                answer["body"].extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        claim = scope.get("state", {}).get(STATE_KEY)
        status = answer.get("status", 500)
        if claim is None or not 200 <= status < 300:
            return
        sessions = self.sessions()
        if sessions is None:
            return
        caller, key = claim
        try:
            async with sessions() as session, session.begin():
                await session.execute(
                    update(self.model)
                    .where(self.model.caller == caller, self.model.key == key)
                    .values(
                        status_code=status,
                        body=bytes(answer["body"]),
                        content_type=(answer.get("content_type") or "")[:200] or None,
                        location=(answer.get("location") or "")[:1000] or None,
                    )
                )
        except Exception as error:
            # The resource exists; only its replay is lost: a retry then gets 409 and can
            # look the resource up. Never fail the answer already sent.
            log.warning("idempotency.record_failed", key=key[:255], error=repr(error))


def install_idempotency(
    app: FastAPI,
    model: type[IdempotencyKeyMixin],
    sessions: Callable[[], async_sessionmaker[AsyncSession] | None],
) -> None:
    """The recorder middleware and the replay handler (the guard is a router dependency)."""

    async def replay(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, IdempotentReplay)
        headers = {REPLAYED_HEADER: "true"}
        if exc.location:
            headers["Location"] = exc.location
        return Response(
            exc.body, status_code=exc.status_code, media_type=exc.content_type, headers=headers
        )

    app.add_exception_handler(IdempotentReplay, replay)
    app.add_middleware(IdempotencyRecorder, model=model, sessions=sessions)
    _document(app)


def _document(app: FastAPI) -> None:
    """The header, and the problems it may bring, on every creating POST of the document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        for operations in document.get("paths", {}).values():
            operation = operations.get("post")
            if operation is None or "201" not in operation.get("responses", {}):
                continue
            if EXTENSION_KEY in operation:
                continue
            operation.setdefault("parameters", []).append(HEADER_PARAMETER)
            for status, response in problem_responses(400, 409, 422).items():
                operation["responses"].setdefault(str(status), response)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


async def _fingerprinted_body(request: Request) -> bytes:
    """The request's body, or for a file upload its parsed form: FastAPI reads a form before
    the dependencies run, which consumes the body's stream, so the form is fingerprinted
    instead (each field by name and value, each file by name, type and a SHA-256 of its
    content, so a large upload is not held twice)."""
    try:
        return await request.body()
    except RuntimeError:
        form = await request.form()
    parts: list[bytes] = []
    for name, value in form.multi_items():
        if isinstance(value, StarletteUploadFile):
            content = await value.read()
            await value.seek(0)
            described = f"{value.filename}\0{value.content_type}\0".encode()
            parts.append(name.encode() + b"\0" + described + hashlib.sha256(content).digest())
        else:
            parts.append(name.encode() + b"\0" + str(value).encode())
    return b"\x1e".join(parts)
