"""The web push sink: subscriptions as a browser gets them, pushes checked (VAPID) and decrypted
(RFC 8291), faults. Pushes are built here with the libraries (py-vapid, pywebpush), not with
dispatch's channel, so the sink is checked on its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPusher  # type: ignore[import-untyped]

from deploy.infra import free_port
from deploy.sinks.webpush import Fault, WebPushSink, b64url_encode, subscription_id

REPO_ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "mailto:alerts@tawny.london"


def new_vapid() -> Any:
    vapid = Vapid02()
    vapid.generate_keys()
    return vapid


def public_key_of(vapid: Any) -> str:
    return b64url_encode(
        vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )


def push_request(
    subscription: dict[str, Any],
    data: bytes,
    *,
    vapid: Any,
    audience: str,
    expires_in_s: int = 3600,
    ttl: str | None = "60",
) -> tuple[str, bytes, dict[str, str]]:
    body = bytes(WebPusher(subscription).encode(data, "aes128gcm")["body"])
    headers = {
        **vapid.sign({"aud": audience, "sub": SUBJECT, "exp": int(time.time()) + expires_in_s}),
        "Content-Encoding": "aes128gcm",
    }
    if ttl is not None:
        headers["TTL"] = ttl
    return str(subscription["endpoint"]), body, headers


@pytest.fixture
async def sink() -> AsyncIterator[WebPushSink]:
    async with WebPushSink(port=0) as sink:
        yield sink


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def push(
    http: httpx.AsyncClient,
    sink: WebPushSink,
    subscription: dict[str, Any],
    data: bytes = b'{"title": "Hello"}',
    **options: Any,
) -> httpx.Response:
    vapid = options.pop("vapid", None) or new_vapid()
    url, body, headers = push_request(
        subscription, data, vapid=vapid, audience=options.pop("audience", sink.origin), **options
    )
    return await http.post(url, content=body, headers=headers)


class TestPushing:
    async def test_decrypts_a_push_signed_with_the_subscriptions_key(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        vapid = new_vapid()
        created = await http.post(
            f"{sink.origin}/subscriptions",
            json={"application_server_key": public_key_of(vapid)},
        )
        assert created.status_code == 201
        subscription = created.json()
        assert subscription["endpoint"].startswith(f"{sink.origin}/push/")
        assert set(subscription["keys"]) == {"p256dh", "auth"}
        text = '{"title": "Sheds broken into — Acacia Avenue", "body": "Lock them"}'

        response = await push(http, sink, subscription, text.encode(), vapid=vapid)

        assert response.status_code == 201
        [received] = sink.received(subscription)
        assert received.payload == text
        assert received.ttl == 60
        assert received.vapid_subject == SUBJECT
        listed = await http.get(
            f"{sink.origin}/messages", params={"subscription": subscription_id(subscription)}
        )
        assert [m["payload"] for m in listed.json()] == [text]

    async def test_refuses_a_key_other_than_the_subscriptions(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe(public_key_of(new_vapid()))

        response = await push(http, sink, subscription, vapid=new_vapid())

        assert response.status_code == 403
        assert sink.received(subscription) == []

    async def test_refuses_a_token_for_another_origin(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe()

        response = await push(http, sink, subscription, audience="https://push.example.org")

        assert response.status_code == 403
        assert "audience" in response.json()["error"].lower()

    async def test_refuses_a_token_valid_for_more_than_a_day(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe()

        response = await push(http, sink, subscription, expires_in_s=2 * 86400)

        assert response.status_code == 403

    async def test_refuses_an_expired_token(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe()

        response = await push(http, sink, subscription, expires_in_s=-120)

        assert response.status_code == 403

    async def test_needs_vapid_and_a_ttl(self, sink: WebPushSink, http: httpx.AsyncClient) -> None:
        subscription = sink.subscribe()
        url, body, _headers = push_request(
            subscription, b"hello", vapid=new_vapid(), audience=sink.origin
        )

        unsigned = await http.post(
            url, content=body, headers={"TTL": "60", "Content-Encoding": "aes128gcm"}
        )
        no_ttl = await push(http, sink, subscription, ttl=None)

        assert unsigned.status_code == 401
        assert no_ttl.status_code == 400

    async def test_refuses_a_body_it_cannot_decrypt(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe()
        other = sink.subscribe()
        # Encrypted for another subscription's keys.
        _url, body, headers = push_request(other, b"hello", vapid=new_vapid(), audience=sink.origin)

        response = await http.post(subscription["endpoint"], content=body, headers=headers)

        assert response.status_code == 400
        assert "decrypt" in response.json()["error"]

    async def test_refuses_more_than_4096_octets(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe()

        response = await push(http, sink, subscription, b"x" * 4000)

        assert response.status_code == 413

    async def test_an_expired_subscription_is_gone_and_an_unknown_one_not_found(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe()
        expired = await http.delete(f"{sink.origin}/subscriptions/{subscription_id(subscription)}")

        gone = await push(http, sink, subscription)
        unknown = await push(
            http, sink, {**subscription, "endpoint": f"{sink.origin}/push/0123abcd"}
        )

        assert expired.status_code == 204
        assert gone.status_code == 410
        assert unknown.status_code == 404


class TestFaults:
    async def test_answers_429_with_retry_after_then_behaves(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        subscription = sink.subscribe()
        added = await http.post(
            f"{sink.origin}/faults",
            json={
                "subscription_id": subscription_id(subscription),
                "status": 429,
                "retry_after_s": 30,
                "times": 1,
            },
        )
        assert added.status_code == 201

        first = await push(http, sink, subscription)
        second = await push(http, sink, subscription)

        assert first.status_code == 429 and first.headers["retry-after"] == "30"
        assert second.status_code == 201
        assert (await http.get(f"{sink.origin}/faults")).json() == []

    async def test_a_fault_for_everyone_applies_to_any_subscription(
        self, sink: WebPushSink, http: httpx.AsyncClient
    ) -> None:
        sink.add_fault(Fault(status=503))
        try:
            response = await push(http, sink, sink.subscribe())
        finally:
            await http.delete(f"{sink.origin}/faults")

        assert response.status_code == 503

    async def test_drops_the_connection(self, sink: WebPushSink, http: httpx.AsyncClient) -> None:
        subscription = sink.subscribe()
        sink.add_fault(Fault(subscription_id=subscription_id(subscription), drop_connection=True))

        with pytest.raises(httpx.RemoteProtocolError):
            await push(http, sink, subscription)

        assert sink.received(subscription) == []

    async def test_answers_slowly(self, sink: WebPushSink) -> None:
        subscription = sink.subscribe()
        sink.add_fault(Fault(subscription_id=subscription_id(subscription), delay_s=2))

        async with httpx.AsyncClient(timeout=0.2) as impatient:
            with pytest.raises(httpx.ReadTimeout):
                await push(impatient, sink, subscription)


class TestAsAProcess:
    def test_serves_and_stops_on_sigterm(self) -> None:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "deploy.sinks.webpush", "--port", str(port)],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as api:
                for _ in range(100):
                    try:
                        if api.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                else:
                    raise AssertionError("the sink never answered")
                subscription = api.post("/subscriptions", json={}).json()
            assert subscription["endpoint"].startswith(f"http://127.0.0.1:{port}/push/")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
