"""A local web push service: it hands out subscriptions as a browser would get them, and checks
and decrypts every push it receives, so dispatch's VAPID tokens and RFC 8291 encryption are
really tested.

    python -m deploy.sinks.webpush --host 127.0.0.1 --port 8026

One HTTP server does both jobs:

- the push service (RFC 8030): ``POST /push/{id}`` takes a push for a subscription. It checks
  the VAPID ``Authorization: vapid t=<JWT>, k=<key>`` (RFC 8292: an ES256 signature by ``k``,
  ``aud`` this service's origin, ``exp`` in the future and at most 24 hours away, a ``sub``
  contact, and ``k`` the applicationServerKey the subscription was made with, if any), the
  ``TTL`` header and ``Content-Encoding: aes128gcm``, a record of at most 4096 octets, and
  decrypts the body with the subscription's private key (RFC 8291). It answers 201 and keeps
  the plaintext; a subscription deleted answers 410, an unknown one 404.
- the sink's own API: ``POST /subscriptions`` makes a subscription (the sink generates the
  P-256 key pair and auth secret a browser would, keeps the private key, and returns the
  ``PushSubscription.toJSON()`` a browser would give), ``POST /subscriptions/batch`` makes
  many (for benchmarks), ``DELETE /subscriptions/{id}`` expires it,
  ``GET /messages?subscription=ID`` lists decrypted pushes, ``DELETE /messages``; faults with
  ``POST /faults``, ``GET /faults``, ``DELETE /faults``.

Faults (:class:`deploy.sinks.http.HttpFault`, as the FCM and Notify sinks take), for one
subscription (``target``: its id, the last part of its endpoint URL; ``subscription_id`` is
accepted too) or for all, forever or for the next N pushes (``times``): ``status`` (answer with
this status, e.g. 429, 500, 503, 404, 410, 413), ``retry_after_s`` (with that status, a
``Retry-After`` header), ``delay_s`` (answer slowly), ``drop_connection`` (close the connection
without a complete answer). For example ``POST /faults`` with ``{"target": "5f1c...",
"status": 410}`` makes that subscription gone; ``GET /faults`` lists them (each with
``target``), ``DELETE /faults`` clears them.

Tests run :class:`WebPushSink` in their own event loop (``port=0`` picks a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import http_ece  # type: ignore[import-untyped]
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from deploy.sinks import AFTER_DESCRIPTION, ReceivedLog
from deploy.sinks.http import HttpFault, HttpFaultBook, add_control_routes
from deploy.sinks.running import run_sink
from deploy.sinks.smtp import _EmbeddedUvicorn, _listening_socket
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)

DEFAULT_MAX_MESSAGES = 10_000
MAX_RECORD_BYTES = 4096
MAX_TOKEN_LIFETIME_S = 24 * 3600
# A token's exp may be a little past 24 hours by the clocks' skew.
CLOCK_SKEW_S = 60
MAX_FAULT_DELAY_S = 120.0
SUBSCRIPTION_ID_LENGTH = 64
# RFC 8292 section 3: "vapid t=<token>, k=<key>", parameters in any order.
_VAPID_PARAMETER = re.compile(r"([tk])=([A-Za-z0-9_\-.=]+)")

ScopeType = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SinkSubscription:
    id: str
    private_key: ec.EllipticCurvePrivateKey
    p256dh: str
    auth: bytes
    application_server_key: str | None
    gone: bool = False


class ReceivedPush(BaseModel):
    """One push as the sink accepted and decrypted it."""

    id: str = Field(description="The sink's own id for the push")
    subscription_id: str
    payload: str = Field(description="The decrypted body, as UTF-8 text")
    ttl: int = Field(description="The TTL header, seconds")
    urgency: str | None = Field(description="The Urgency header, if any")
    topic: str | None = Field(description="The Topic header, if any")
    vapid_subject: str = Field(description="The sub claim of the VAPID token")
    vapid_key: str = Field(description="The k parameter: the sender's VAPID public key")
    received_at: datetime

    def json_payload(self) -> Any:
        return json.loads(self.payload)


class NewSubscription(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"application_server_key": "BOHi8kRZqDWaq5zKusjLlS0ocXPFfLwnUEQP..."}]
        }
    }

    application_server_key: str | None = Field(
        default=None,
        max_length=100,
        description="The VAPID public key pushes must be signed with (as a browser's "
        "pushManager.subscribe() binds it); unset: any key",
    )


class NewSubscriptions(NewSubscription):
    model_config = {"json_schema_extra": {"examples": [{"count": 1000}]}}

    count: int = Field(ge=1, le=10_000, description="How many subscriptions to make")


# The sink's faults are the HTTP sinks' (deploy/sinks/http.py); a fault's target is a
# subscription id, which its API also accepts as ``subscription_id``.
Fault = HttpFault


class PushRefusedError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _DroppedConnectionError(Exception):
    """Raised after the response has started: uvicorn then closes the connection."""


@dataclass(frozen=True)
class VapidClaims:
    subject: str
    key: str
    expires: int


class PushService:
    """The subscriptions, the pushes received and the checks between them."""

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        self.origin = ""
        self.subscriptions: dict[str, SinkSubscription] = {}
        self.messages: ReceivedLog[ReceivedPush] = ReceivedLog(max_messages)
        self.faults = HttpFaultBook()
        # Verified tokens: a sender reuses one for many pushes, as RFC 8292 intends.
        self._verified: dict[str, VapidClaims] = {}

    def subscribe(self, application_server_key: str | None = None) -> dict[str, Any]:
        private_key = ec.generate_private_key(ec.SECP256R1())
        raw = private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        subscription = SinkSubscription(
            id=secrets.token_hex(16),
            private_key=private_key,
            p256dh=b64url_encode(raw),
            auth=secrets.token_bytes(16),
            application_server_key=application_server_key,
        )
        self.subscriptions[subscription.id] = subscription
        return {
            "endpoint": f"{self.origin}/push/{subscription.id}",
            "expirationTime": None,
            "keys": {"p256dh": subscription.p256dh, "auth": b64url_encode(subscription.auth)},
        }

    def expire(self, subscription_id: str) -> bool:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            return False
        subscription.gone = True
        return True

    def received_by(
        self, subscription_id: str | None = None, *, after: int = 0
    ) -> list[ReceivedPush]:
        return [
            m
            for m in self.messages.after(after)
            if subscription_id is None or m.subscription_id == subscription_id
        ]

    def accept(
        self,
        subscription_id: str,
        *,
        authorization: str | None,
        ttl: str | None,
        content_encoding: str | None,
        urgency: str | None,
        topic: str | None,
        body: bytes,
    ) -> ReceivedPush:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise PushRefusedError(404, "no such subscription")
        if subscription.gone:
            raise PushRefusedError(410, "the subscription has expired or was unsubscribed")
        claims = self._check_vapid(authorization)
        if subscription.application_server_key is not None and claims.key.rstrip(
            "="
        ) != subscription.application_server_key.rstrip("="):
            raise PushRefusedError(
                403, "the VAPID key is not the one the subscription was made with"
            )
        if ttl is None or not ttl.strip().isdigit():
            raise PushRefusedError(400, "a TTL header (seconds) is required")
        if (content_encoding or "").strip().lower() != "aes128gcm":
            raise PushRefusedError(415, "Content-Encoding must be aes128gcm")
        if len(body) > MAX_RECORD_BYTES:
            raise PushRefusedError(413, f"the body is larger than {MAX_RECORD_BYTES} octets")
        try:
            plaintext = http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth,
                version="aes128gcm",
            )
            text = bytes(plaintext).decode()
        except Exception as error:  # http_ece raises several kinds for a body it cannot open
            raise PushRefusedError(400, f"cannot decrypt the body: {error!s:.100}") from error
        push = ReceivedPush(
            id=uuid.uuid4().hex,
            subscription_id=subscription_id,
            payload=text,
            ttl=int(ttl),
            urgency=urgency,
            topic=topic,
            vapid_subject=claims.subject,
            vapid_key=claims.key,
            received_at=utcnow(),
        )
        self.messages.append(push)
        return push

    def _check_vapid(self, authorization: str | None) -> VapidClaims:
        if authorization is None or not authorization.lower().startswith("vapid "):
            raise PushRefusedError(
                401, "a VAPID Authorization header (vapid t=..., k=...) is needed"
            )
        parameters = dict(_VAPID_PARAMETER.findall(authorization[6:]))
        token, key = parameters.get("t"), parameters.get("k")
        if not token or not key:
            raise PushRefusedError(401, "the VAPID header needs t= and k=")
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and cached.key == key and cached.expires > now:
            return cached
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b64url_decode(key)
            )
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["exp", "aud", "sub"]},
            )
        except (jwt.InvalidTokenError, ValueError) as error:
            raise PushRefusedError(403, f"the VAPID token is not valid: {error}") from error
        expires = int(claims["exp"])
        if expires > now + MAX_TOKEN_LIFETIME_S + CLOCK_SKEW_S:
            raise PushRefusedError(403, "the VAPID token expires more than 24 hours from now")
        subject = str(claims["sub"])
        if not subject.startswith(("mailto:", "https:")):
            raise PushRefusedError(403, "the VAPID sub must be a mailto: or https: contact")
        verified = VapidClaims(subject=subject, key=key, expires=expires)
        if len(self._verified) > 1000:
            self._verified.clear()
        self._verified[token] = verified
        return verified


def create_http_app(service: PushService) -> FastAPI:
    app = FastAPI(
        title="Tawny web push sink",
        description="A push service for dev and tests: it checks VAPID and decrypts pushes.",
        version="0.1.0",
    )

    @app.post("/push/{subscription_id}", summary="Push a message (RFC 8030)", status_code=201)
    async def push(
        subscription_id: str,
        request: Request,
        authorization: Annotated[str | None, Header(max_length=2000)] = None,
        ttl: Annotated[str | None, Header(max_length=20)] = None,
        content_encoding: Annotated[str | None, Header(max_length=50)] = None,
        urgency: Annotated[str | None, Header(max_length=20)] = None,
        topic: Annotated[str | None, Header(max_length=50)] = None,
    ) -> Response:
        fault: Fault | None = request.scope.get("tawny_fault")
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status is not None:
                headers = {}
                if fault.retry_after_s is not None:
                    headers["Retry-After"] = str(fault.retry_after_s)
                return JSONResponse(
                    {"error": "fault injected"}, status_code=fault.status, headers=headers
                )
        try:
            received = service.accept(
                subscription_id,
                authorization=authorization,
                ttl=ttl,
                content_encoding=content_encoding,
                urgency=urgency,
                topic=topic,
                body=await request.body(),
            )
        except PushRefusedError as refused:
            log.info("webpush_sink.refused", status=refused.status, reason=refused.reason)
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        return Response(status_code=201, headers={"Location": f"/messages/{received.id}"})

    @app.post("/subscriptions", status_code=201, summary="Subscribe, as a browser would")
    async def new_subscription(request: NewSubscription) -> dict[str, Any]:
        return service.subscribe(request.application_server_key)

    @app.post(
        "/subscriptions/batch",
        status_code=201,
        summary="Many subscriptions at once (benchmarks), each as a browser would give it",
    )
    async def new_subscriptions(request: NewSubscriptions) -> list[dict[str, Any]]:
        return [service.subscribe(request.application_server_key) for _ in range(request.count)]

    @app.delete(
        "/subscriptions/{subscription_id}",
        status_code=204,
        summary="Expire a subscription: pushes to it then get 410 Gone",
    )
    async def expire_subscription(subscription_id: str) -> Response:
        if not service.expire(subscription_id):
            return JSONResponse({"error": "no such subscription"}, status_code=404)
        return Response(status_code=204)

    @app.get("/messages", summary="Pushes received and decrypted, oldest first")
    async def list_messages(
        subscription: Annotated[
            str | None, Query(max_length=SUBSCRIPTION_ID_LENGTH, description="Only this one's")
        ] = None,
        after: Annotated[int, Query(ge=0, description=AFTER_DESCRIPTION)] = 0,
    ) -> list[ReceivedPush]:
        return service.received_by(subscription, after=after)

    @app.delete("/messages", status_code=204, summary="Forget every push received")
    async def clear_messages() -> Response:
        service.messages.clear()
        return Response(status_code=204)

    add_control_routes(app, service.faults, target="subscription")
    return app


class _FaultingApp:
    """Takes the fault for each push before the app sees it; a dropped connection is a
    response started with a Content-Length and never finished."""

    def __init__(self, app: FastAPI, service: PushService) -> None:
        self._app = app
        self._service = service

    async def __call__(self, scope: ScopeType, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith("/push/"):
                fault = self._service.faults.take(path.removeprefix("/push/"))
                if fault is not None and fault.drop_connection:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 201,
                            "headers": [(b"content-length", b"64")],
                        }
                    )
                    raise _DroppedConnectionError
                scope["tawny_fault"] = fault
        await self._app(scope, receive, send)


class WebPushSink:
    """The push service and its API on the running event loop. ``port=0`` binds a free port;
    read it (and :attr:`origin`) after :meth:`start`."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, max_messages: int = DEFAULT_MAX_MESSAGES
    ) -> None:
        self.host = host
        self.port = port
        self.service = PushService(max_messages)
        self.app = create_http_app(self.service)
        self._server: _EmbeddedUvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def origin(self) -> str:
        return self.service.origin

    def subscribe(self, application_server_key: str | None = None) -> dict[str, Any]:
        """A new subscription, as ``PushSubscription.toJSON()`` in a browser."""
        return self.service.subscribe(application_server_key)

    def expire(self, subscription: dict[str, Any]) -> None:
        self.service.expire(subscription_id(subscription))

    def received(self, subscription: dict[str, Any]) -> list[ReceivedPush]:
        return self.service.received_by(subscription_id(subscription))

    def add_fault(self, fault: Fault) -> None:
        self.service.faults.add(fault)

    def clear_faults(self) -> None:
        self.service.faults.clear()

    async def start(self) -> None:
        sock = _listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self.service.origin = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            _FaultingApp(self.app, self.service),
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            # Push services keep connections open a long time; uvicorn's 5 s default would
            # close idle ones just as a sender reuses them.
            timeout_keep_alive=75,
        )
        server = _EmbeddedUvicorn(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="webpush-sink")
        while not server.started:
            if task.done():
                sock.close()
                task.result()
                raise RuntimeError("the web push sink stopped before it started")
            await asyncio.sleep(0.01)
        self._server, self._task = server, task
        log.info("webpush_sink.started", origin=self.origin)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None
        log.info("webpush_sink.stopped")

    async def __aenter__(self) -> WebPushSink:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.stop()


def subscription_id(subscription: dict[str, Any]) -> str:
    """The sink's id of a subscription, from its endpoint URL."""
    return str(subscription["endpoint"]).rsplit("/", 1)[1]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A local web push service that checks VAPID and decrypts what it receives."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8026, help="HTTP port (0: any free)")
    parser.add_argument(
        "--max-messages",
        type=int,
        default=DEFAULT_MAX_MESSAGES,
        help="how many of the newest pushes to keep",
    )
    args = parser.parse_args(argv)
    run_sink(
        "webpush-sink",
        lambda: WebPushSink(host=args.host, port=args.port, max_messages=args.max_messages),
    )


if __name__ == "__main__":
    main()
