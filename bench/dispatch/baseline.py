"""The least code that does a dispatcher's work, per channel: the limit dispatch is measured
against (``../shared/research/calibration.md``).

Honestly minimal: no database, nothing rendered per recipient, the fastest fitting client, the
same bytes on the wire and the same work per recipient that cannot be avoided:

- **email**: the alert flattened once; per recipient the two unsubscribe tokens signed (HMAC)
  and the address and links replaced in the bytes; ``POOL_SIZE`` persistent aiosmtplib
  connections, each sending its share with ``sendmail``;
- **web push**: the payload encoded once and the VAPID token signed once; per recipient RFC 8291
  encryption with a fresh key (http-ece); aiohttp with ``WEBPUSH_POOL_SIZE`` requests in flight;
- **FCM**: the OAuth access token fetched once and the message JSON encoded once; per recipient
  the registration token added; aiohttp with ``FCM_POOL_SIZE`` requests in flight (the sink
  speaks HTTP/1.1).

Each returns msgs/s and CPU seconds of this process per 1,000 messages.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import aiosmtplib
import http_ece  # type: ignore[import-untyped]
from aiosmtplib.email import flatten_message
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]

from services.dispatch.channels.base import Recipient
from services.dispatch.channels.email import EmailChannel, SmtpServer
from services.dispatch.channels.fcm import AccessTokens, ServiceAccount
from services.dispatch.channels.fcm import _payload as fcm_payload
from services.dispatch.channels.webpush import _payload as webpush_payload
from services.dispatch.channels.webpush import b64url_decode, push_urgency
from services.dispatch.preferences.tokens import (
    UnsubscribeLinks,
    UnsubscribeScope,
    UnsubscribeTokens,
)
from shared.events import AlertContent

POOL_SIZE = 8
WEBPUSH_POOL_SIZE = 32
FCM_POOL_SIZE = 32
VAPID_SUBJECT = "mailto:alerts@tawny.london"
PLACEHOLDER_ADDRESS = "placeholder@example.invalid"


async def _measured(count: int, run: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    cpu_before = time.process_time()
    started = time.perf_counter()
    await run()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    return {
        "msgs_per_s": round(count / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "cpu_s_per_1000": round(cpu / count * 1000, 3),
    }


def _queue(count: int) -> asyncio.Queue[int]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    return queue


async def _post_all(
    session: aiohttp.ClientSession,
    queue: asyncio.Queue[int],
    request: Callable[[int], tuple[str, bytes, dict[str, str]]],
    *,
    in_flight: int,
    expected_status: int,
) -> None:
    """``in_flight`` loops, each POSTing the next recipient's request until none is left."""

    async def sender() -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            url, body, headers = request(index)
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != expected_status:
                    raise RuntimeError(f"the sink answered {response.status}")

    await asyncio.gather(*(sender() for _ in range(in_flight)))


async def email(
    port: int, content: AlertContent, addresses: list[str], *, base_url: str, key: bytes
) -> dict[str, Any]:
    tokens = UnsubscribeTokens(key)
    channel = EmailChannel(
        SmtpServer(host="127.0.0.1", port=port, starttls=False, timeout_s=10),
        email_from="Tawny alerts <alerts@tawny.london>",
        concurrency=POOL_SIZE,
        unsubscribe=UnsubscribeLinks(base_url, tokens),
    )
    zero = uuid.UUID(int=0)
    template = flatten_message(
        channel.alert_message(content, Recipient(zero, zero, PLACEHOLDER_ADDRESS)),
        cte_type="8bit",
    )
    zero_category = tokens.sign(UnsubscribeScope(zero, content.category)).encode()
    zero_all = tokens.sign(UnsubscribeScope(zero)).encode()
    queue = _queue(len(addresses))

    async def connection_loop() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench")
        await client.connect()
        try:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                member_id = uuid.uuid4()
                address = addresses[index]
                message = (
                    template.replace(PLACEHOLDER_ADDRESS.encode(), address.encode())
                    .replace(
                        zero_category,
                        tokens.sign(UnsubscribeScope(member_id, content.category)).encode(),
                    )
                    .replace(zero_all, tokens.sign(UnsubscribeScope(member_id)).encode())
                )
                await client.sendmail(
                    "alerts@tawny.london", [address], message, mail_options=["BODY=8BITMIME"]
                )
        finally:
            await client.quit()

    async def run() -> None:
        await asyncio.gather(*(connection_loop() for _ in range(POOL_SIZE)))

    return await _measured(len(addresses), run)


async def webpush(
    content: AlertContent, subscriptions: list[dict[str, Any]], vapid_private_key: str
) -> dict[str, Any]:
    payload = webpush_payload(content)
    origin = subscriptions[0]["endpoint"].split("/push/", 1)[0]
    vapid = Vapid02.from_string(vapid_private_key)
    authorization = vapid.sign(
        {"aud": origin, "sub": VAPID_SUBJECT, "exp": int(time.time()) + 12 * 3600}
    )["Authorization"]
    headers = {
        "Authorization": authorization,
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": "86400",
        "Urgency": push_urgency(content),
        "Topic": content.alert_id.hex,
    }
    keys = [
        (s["endpoint"], b64url_decode(s["keys"]["p256dh"]), b64url_decode(s["keys"]["auth"]))
        for s in subscriptions
    ]
    queue = _queue(len(keys))

    async def run() -> None:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=WEBPUSH_POOL_SIZE)
        ) as session:

            def request(index: int) -> tuple[str, bytes, dict[str, str]]:
                endpoint, p256dh, auth = keys[index]
                body = http_ece.encrypt(
                    payload,
                    private_key=ec.generate_private_key(ec.SECP256R1()),
                    dh=p256dh,
                    auth_secret=auth,
                    version="aes128gcm",
                )
                return endpoint, body, headers

            await _post_all(
                session, queue, request, in_flight=WEBPUSH_POOL_SIZE, expected_status=201
            )

    return await _measured(len(keys), run)


async def fcm(
    content: AlertContent,
    registration_tokens: list[str],
    *,
    service_account: dict[str, str],
    base_url: str,
    project_id: str,
) -> dict[str, Any]:
    opening = json.dumps({"message": fcm_payload(content)}, ensure_ascii=False)[: -len("}}")]
    send_url = f"{base_url}/v1/projects/{project_id}/messages:send"
    account = ServiceAccount.from_json(json.dumps(service_account))
    queue = _queue(len(registration_tokens))

    async def run() -> None:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=FCM_POOL_SIZE)
        ) as session:
            assertion = AccessTokens(account, token_url=f"{base_url}/token").assertion()
            async with session.post(
                f"{base_url}/token",
                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                      "assertion": assertion},
            ) as response:  # fmt: skip
                access_token = (await response.json())["access_token"]
            headers = {
                "Authorization": f"Bearer {access_token}",
                "Content-Type": "application/json",
            }

            def request(index: int) -> tuple[str, bytes, dict[str, str]]:
                token = json.dumps(registration_tokens[index])
                return send_url, f'{opening}, "token": {token}}}}}'.encode(), headers

            await _post_all(session, queue, request, in_flight=FCM_POOL_SIZE, expected_status=200)

    return await _measured(len(registration_tokens), run)
