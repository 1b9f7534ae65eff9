"""A local stand-in for GOV.UK Notify's SMS and letter API, keeping what it is sent.

    python -m deploy.sinks.notify --port 8027 --api-key KEY \
        [--receipts-url http://127.0.0.1:8004/receipts/notify --receipts-token TOKEN]

Every request must carry Notify's JWT (HS256 with the API key's secret, ``iss`` its service id,
``iat`` within 30 seconds): 403 ``AuthError`` otherwise, as Notify answers.
``POST /v2/notifications/sms`` wants a UK mobile number (400 ``ValidationError`` on
``phone_number`` otherwise), a template id and personalisation; ``POST
/v2/notifications/letter`` wants ``address_line_1`` to ``address_line_3`` at least. Both answer
201 with the notification's id, and keep it: ``GET /notifications?phone_number=...`` or
``?reference=...`` lists them, so tests can read the code a letter carried.

Receipts. With a receipts URL, :meth:`NotifySink.send_receipt` (or ``POST
/notifications/{id}/receipt``) posts Notify's delivery callback for a notification to it, with
the bearer token; ``--auto-receipts`` sends ``delivered`` for every SMS straight after accepting
it, as dev wants.

Faults (:mod:`deploy.sinks.http`): for one phone number or all, at ``POST /faults``. HTTP/1.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
import jwt
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from deploy.sinks import AFTER_DESCRIPTION, ReceivedLog
from deploy.sinks.http import (
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

UUID_LENGTH = 36
TOKEN_MAX_AGE_S = 30
DEFAULT_MAX_NOTIFICATIONS = 100_000
UK_MOBILE = re.compile(r"^(?:\+44|0044|0)7\d{9}$")
ERROR_NAMES = {400: "BadRequestError", 403: "AuthError", 429: "RateLimitError"}
ReceiptStatus = Literal["delivered", "permanent-failure", "temporary-failure", "technical-failure"]


def notify_error(status: int, message: str, *, error: str | None = None) -> dict[str, Any]:
    """An error body as Notify writes it."""
    name = error or ERROR_NAMES.get(status, "Exception")
    return {"status_code": status, "errors": [{"error": name, "message": message}]}


class SentNotification(BaseModel):
    id: uuid.UUID
    type: Literal["sms", "letter"]
    reference: str | None
    template_id: str
    phone_number: str | None = Field(description="For an SMS")
    personalisation: dict[str, str]
    created_at: datetime


class ReceiptRequest(BaseModel):
    status: ReceiptStatus = "delivered"


def _service_and_secret(api_key: str) -> tuple[str, str]:
    return api_key[-(2 * UUID_LENGTH + 1) : -(UUID_LENGTH + 1)], api_key[-UUID_LENGTH:]


class NotifySink:
    """The Notify stand-in on the running event loop. ``port=0`` binds a free port."""

    def __init__(
        self,
        *,
        api_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        receipts_url: str | None = None,
        receipts_token: str | None = None,
        auto_receipts: bool = False,
        max_notifications: int = DEFAULT_MAX_NOTIFICATIONS,
    ) -> None:
        self.service_id, self._secret = _service_and_secret(api_key)
        self.receipts_url = receipts_url
        self.receipts_token = receipts_token
        self.auto_receipts = auto_receipts
        self.faults = HttpFaultBook()
        self._notifications: ReceivedLog[SentNotification] = ReceivedLog(max_notifications)
        self._background: set[asyncio.Task[None]] = set()
        self.app = self._build_app()
        self._server = EmbeddedHttpServer(self.app, host=host, port=port, name="notify-sink")

    # --- for tests -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def notifications(self) -> list[SentNotification]:
        return list(self._notifications)

    def sms_to(self, phone_number: str) -> list[SentNotification]:
        wanted = _e164(phone_number)
        return [n for n in self._notifications if n.phone_number == wanted]

    def with_reference(self, reference: str) -> list[SentNotification]:
        return [n for n in self._notifications if n.reference == reference]

    def add_fault(self, fault: HttpFault) -> None:
        self.faults.add(fault)

    async def send_receipt(
        self, notification_id: uuid.UUID, status: ReceiptStatus = "delivered"
    ) -> httpx.Response:
        """Post Notify's delivery callback for one notification to the receipts URL."""
        if self.receipts_url is None:
            raise RuntimeError("the sink has no receipts URL")
        found = [n for n in self._notifications if n.id == notification_id]
        if not found:
            raise KeyError(notification_id)
        notification = found[0]
        now = utcnow().isoformat()
        body = {
            "id": str(notification.id),
            "reference": notification.reference,
            "to": notification.phone_number or notification.personalisation.get("address_line_1"),
            "status": status,
            "created_at": notification.created_at.isoformat(),
            "completed_at": now,
            "sent_at": now,
            "notification_type": notification.type,
            "template_id": notification.template_id,
            "template_version": 1,
        }
        headers = {"Authorization": f"Bearer {self.receipts_token}"} if self.receipts_token else {}
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(self.receipts_url, json=body, headers=headers)

    # --- the API -----------------------------------------------------------------------------

    def _auth_problem(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "Unauthorized: authentication token must be provided"
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["iss", "iat"], "verify_iat": True},
            )
        except jwt.PyJWTError as error:
            return f"Invalid token: {error}"
        if claims.get("iss") != self.service_id:
            return "Invalid token: service not found"
        if abs(time.time() - float(claims["iat"])) > TOKEN_MAX_AGE_S:
            return "Error: Your system clock must be accurate to within 30 seconds"
        return None

    def _accept(
        self,
        *,
        kind: Literal["sms", "letter"],
        body: dict[str, Any],
        phone_number: str | None,
    ) -> SentNotification:
        personalisation = {str(k): str(v) for k, v in (body.get("personalisation") or {}).items()}
        notification = SentNotification(
            id=uuid.uuid4(),
            type=kind,
            reference=body.get("reference"),
            template_id=str(body.get("template_id", "")),
            phone_number=phone_number,
            personalisation=personalisation,
            created_at=utcnow(),
        )
        self._notifications.append(notification)
        log.info("notify_sink.accepted", kind=kind, id=str(notification.id))
        if kind == "sms" and self.auto_receipts and self.receipts_url:
            task = asyncio.create_task(self._auto_receipt(notification.id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return notification

    async def _auto_receipt(self, notification_id: uuid.UUID) -> None:
        try:
            await self.send_receipt(notification_id)
        except httpx.HTTPError as error:
            log.warning("notify_sink.receipt_failed", error=repr(error))

    def _build_app(self) -> FastAPI:
        app = FastAPI(
            title="Tawny Notify sink",
            description="A local GOV.UK Notify-compatible SMS and letter API.",
            version="0.1.0",
        )
        install_drop_handler(app)

        async def parse(request: Request) -> dict[str, Any] | JSONResponse:
            problem = self._auth_problem(request)
            if problem is not None:
                return JSONResponse(notify_error(403, problem), status_code=403)
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse(notify_error(400, "Invalid JSON"), status_code=400)
            if not isinstance(body, dict) or not body.get("template_id"):
                return JSONResponse(
                    notify_error(
                        400, "template_id is a required property", error="ValidationError"
                    ),
                    status_code=400,
                )
            return body

        def error_body(status: int) -> dict[str, Any]:
            return notify_error(status, "Fault injected by the sink.")

        @app.post("/v2/notifications/sms", status_code=201, summary="Send an SMS")
        async def send_sms(request: Request) -> JSONResponse:
            body = await parse(request)
            if isinstance(body, JSONResponse):
                return body
            phone_number = str(body.get("phone_number", ""))
            faulty = await apply_fault(self.faults.take(_e164(phone_number)), request, error_body)
            if faulty is not None:
                return faulty
            if not UK_MOBILE.match(phone_number.replace(" ", "")):
                return JSONResponse(
                    notify_error(
                        400, "phone_number Not a UK mobile number", error="ValidationError"
                    ),
                    status_code=400,
                )
            sent = self._accept(kind="sms", body=body, phone_number=_e164(phone_number))
            return JSONResponse(
                {
                    "id": str(sent.id),
                    "reference": sent.reference,
                    "content": {
                        "body": sent.personalisation.get("body", ""),
                        "from_number": "Tawny",
                    },
                    "uri": f"{self.url}/v2/notifications/{sent.id}",
                    "template": {"id": sent.template_id, "version": 1, "uri": ""},
                },
                status_code=201,
            )

        @app.post("/v2/notifications/letter", status_code=201, summary="Send a letter")
        async def send_letter(request: Request) -> JSONResponse:
            body = await parse(request)
            if isinstance(body, JSONResponse):
                return body
            personalisation = body.get("personalisation") or {}
            faulty = await apply_fault(
                self.faults.take(str(personalisation.get("address_line_1", ""))),
                request,
                error_body,
            )
            if faulty is not None:
                return faulty
            missing = [
                f"address_line_{n}"
                for n in (1, 2, 3)
                if not str(personalisation.get(f"address_line_{n}", "")).strip()
            ]
            if missing:
                return JSONResponse(
                    notify_error(
                        400, f"personalisation {missing[0]} is a required property",
                        error="ValidationError",
                    ),
                    status_code=400,
                )  # fmt: skip
            sent = self._accept(kind="letter", body=body, phone_number=None)
            return JSONResponse(
                {
                    "id": str(sent.id),
                    "reference": sent.reference,
                    "content": {"subject": "Your Tawny address code", "body": ""},
                    "uri": f"{self.url}/v2/notifications/{sent.id}",
                    "template": {"id": sent.template_id, "version": 1, "uri": ""},
                    "scheduled_for": None,
                    "postage": "second",
                },
                status_code=201,
            )

        @app.get("/notifications", summary="Notifications accepted, oldest first")
        async def list_notifications(
            phone_number: Annotated[str | None, Query(max_length=20)] = None,
            reference: Annotated[str | None, Query(max_length=1000)] = None,
            after: Annotated[int, Query(ge=0, description=AFTER_DESCRIPTION)] = 0,
        ) -> list[SentNotification]:
            found = self._notifications.after(after)
            if phone_number is not None:
                found = [n for n in found if n.phone_number == _e164(phone_number)]
            if reference is not None:
                found = [n for n in found if n.reference == reference]
            return found

        @app.delete("/notifications", status_code=204, summary="Forget every notification")
        async def clear_notifications() -> Response:
            self._notifications.clear()
            return Response(status_code=204)

        @app.post(
            "/notifications/{notification_id}/receipt",
            summary="Send the delivery callback for one notification to the receipts URL",
        )
        async def receipt(notification_id: uuid.UUID, request: ReceiptRequest) -> JSONResponse:
            try:
                answer = await self.send_receipt(notification_id, request.status)
            except KeyError:
                return JSONResponse({"detail": "no such notification"}, status_code=404)
            except (RuntimeError, httpx.HTTPError) as error:
                return JSONResponse({"detail": str(error)}, status_code=409)
            return JSONResponse({"callback_status": answer.status_code})

        add_control_routes(app, self.faults, target="phone number")

        return app

    async def start(self) -> None:
        await self._server.start()
        log.info("notify_sink.started", url=self.url)

    async def stop(self) -> None:
        await self._server.stop()
        for task in list(self._background):
            task.cancel()

    async def __aenter__(self) -> NotifySink:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.stop()


def _e164(phone_number: str) -> str:
    compact = phone_number.replace(" ", "")
    for prefix in ("+44", "0044", "0"):
        if compact.startswith(prefix):
            return "+44" + compact[len(prefix) :]
    return compact


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Notify-compatible SMS and letter API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8027)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("NOTIFY_SINK_API_KEY"),
        help="the API key clients use ({key_name}-{service_id}-{secret}); or NOTIFY_SINK_API_KEY",
    )
    parser.add_argument("--receipts-url", help="where delivery callbacks are posted")
    parser.add_argument(
        "--receipts-token",
        default=os.environ.get("NOTIFY_SINK_RECEIPTS_TOKEN"),
        help="the callbacks' bearer token; or NOTIFY_SINK_RECEIPTS_TOKEN",
    )
    parser.add_argument(
        "--auto-receipts", action="store_true", help="send 'delivered' for every SMS at once"
    )
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or NOTIFY_SINK_API_KEY) is required")

    def build() -> NotifySink:
        return NotifySink(
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            receipts_url=args.receipts_url,
            receipts_token=args.receipts_token,
            auto_receipts=args.auto_receipts,
        )

    run_sink("notify-sink", build)


if __name__ == "__main__":
    main()
