"""The Notify sink over real HTTP: its JWT check, what it keeps, receipts callbacks, faults;
and as a process, as the dev stack runs it."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request

from deploy.infra import free_port
from deploy.sinks.http import EmbeddedHttpServer
from deploy.sinks.notify import NotifySink

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"tawny_test-{SERVICE_ID}-{SECRET}"
TEMPLATE = "2c0d3b4e-2f0a-4a55-9d52-0d6f3d6a7e01"


def bearer(
    *, iss: str = SERVICE_ID, secret: str = SECRET, iat: float | None = None
) -> dict[str, str]:
    token = jwt.encode({"iss": iss, "iat": int(iat or time.time())}, secret, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def sms(phone_number: str, reference: str | None = None) -> dict[str, Any]:
    return {
        "phone_number": phone_number,
        "template_id": TEMPLATE,
        "personalisation": {"body": "Lock your shed."},
        "reference": reference,
    }


class CallbackReceiver:
    """Where the sink posts receipts: keeps each request's headers and body."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []
        app = FastAPI()

        @app.post("/receipts")
        async def receive(request: Request) -> dict[str, str]:
            self.calls.append((dict(request.headers), await request.json()))
            return {}

        self.server = EmbeddedHttpServer(app, host="127.0.0.1", port=0, name="receiver")


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    await receiver.server.start()
    yield receiver
    await receiver.server.stop()


@pytest.fixture
async def sink(receiver: CallbackReceiver) -> AsyncIterator[NotifySink]:
    async with NotifySink(
        api_key=API_KEY,
        receipts_url=f"{receiver.server.url}/receipts",
        receipts_token="callback-secret",
    ) as sink:
        yield sink


@pytest.fixture
async def api(sink: NotifySink) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sink.url) as client:
        yield client


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            bearer(secret=str(uuid.uuid4())),
            bearer(iss=str(uuid.uuid4())),
            bearer(iat=time.time() - 120),
        ],
    )
    async def test_refuses_a_request_without_a_good_jwt(
        self, api: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await api.post("/v2/notifications/sms", json=sms("07700900001"), headers=headers)
        assert response.status_code == 403
        assert response.json()["errors"][0]["error"] == "AuthError"


class TestSms:
    async def test_keeps_an_sms_and_lists_it_by_number(
        self, api: httpx.AsyncClient, sink: NotifySink
    ) -> None:
        reference = str(uuid.uuid4())
        response = await api.post(
            "/v2/notifications/sms", json=sms("07700 900002", reference), headers=bearer()
        )
        assert response.status_code == 201
        body = response.json()
        assert body["reference"] == reference
        assert body["content"]["body"] == "Lock your shed."

        listed = (await api.get("/notifications", params={"phone_number": "+447700900002"})).json()
        assert [n["id"] for n in listed] == [body["id"]]
        assert listed[0]["phone_number"] == "+447700900002"

    async def test_refuses_a_number_that_is_not_a_uk_mobile(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/v2/notifications/sms", json=sms("020 7946 0000"), headers=bearer()
        )
        assert response.status_code == 400
        assert "phone_number" in response.json()["errors"][0]["message"]

    async def test_a_fault_for_one_number(self, api: httpx.AsyncClient) -> None:
        await api.post(
            "/faults", json={"target": "+447700900003", "status": 429, "retry_after_s": 4}
        )
        throttled = await api.post(
            "/v2/notifications/sms", json=sms("07700900003"), headers=bearer()
        )
        fine = await api.post("/v2/notifications/sms", json=sms("07700900004"), headers=bearer())
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "4"
        assert throttled.json()["errors"][0]["error"] == "RateLimitError"
        assert fine.status_code == 201


class TestLetters:
    async def test_keeps_a_letter_so_its_code_can_be_read(
        self, api: httpx.AsyncClient, sink: NotifySink
    ) -> None:
        reference = str(uuid.uuid4())
        letter = {
            "template_id": TEMPLATE,
            "reference": reference,
            "personalisation": {
                "address_line_1": "Ada Lovelace",
                "address_line_2": "1 Acacia Avenue",
                "address_line_3": "E8 1AA",
                "code": "K7Q2M9",
            },
        }
        response = await api.post("/v2/notifications/letter", json=letter, headers=bearer())
        assert response.status_code == 201
        [kept] = (await api.get("/notifications", params={"reference": reference})).json()
        assert kept["type"] == "letter"
        assert kept["personalisation"]["code"] == "K7Q2M9"

    async def test_refuses_a_letter_without_three_address_lines(
        self, api: httpx.AsyncClient
    ) -> None:
        letter = {"template_id": TEMPLATE, "personalisation": {"address_line_1": "Ada"}}
        response = await api.post("/v2/notifications/letter", json=letter, headers=bearer())
        assert response.status_code == 400


class TestReceipts:
    async def test_posts_notifys_callback_with_the_bearer_token(
        self, api: httpx.AsyncClient, sink: NotifySink, receiver: CallbackReceiver
    ) -> None:
        reference = str(uuid.uuid4())
        sent = (
            await api.post(
                "/v2/notifications/sms", json=sms("07700900005", reference), headers=bearer()
            )
        ).json()

        answer = await api.post(
            f"/notifications/{sent['id']}/receipt", json={"status": "permanent-failure"}
        )

        assert answer.json() == {"callback_status": 200}
        [(headers, body)] = receiver.calls
        assert headers["authorization"] == "Bearer callback-secret"
        assert body["id"] == sent["id"]
        assert body["reference"] == reference
        assert body["to"] == "+447700900005"
        assert body["status"] == "permanent-failure"
        assert body["notification_type"] == "sms"

    async def test_auto_receipts_report_each_sms_delivered(
        self, api: httpx.AsyncClient, sink: NotifySink, receiver: CallbackReceiver
    ) -> None:
        sink.auto_receipts = True
        sent = (
            await api.post("/v2/notifications/sms", json=sms("07700900006"), headers=bearer())
        ).json()
        for _ in range(100):
            if receiver.calls:
                break
            await asyncio.sleep(0.02)
        [(_headers, body)] = receiver.calls
        assert (body["id"], body["status"]) == (sent["id"], "delivered")


class TestAsAProcess:
    async def test_serves_until_sigterm(self) -> None:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deploy.sinks.notify", "--port", str(port),
            "--api-key", API_KEY,
            cwd=REPO_ROOT,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for _ in range(200):
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                response = await client.post(
                    "/v2/notifications/sms", json=sms("07700900007"), headers=bearer()
                )
                assert response.status_code == 201
        finally:
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=10) == 0
