"""Web push: alerts to browsers through their push services (the Push API), authenticated with
VAPID (RFC 8292) and encrypted for the subscription's keys (RFC 8291, ``aes128gcm``).

Addresses. A member's web push endpoint holds the browser's subscription as compact JSON
(:func:`subscription_address`): the push service's endpoint URL and the browser's P-256 public
key (``p256dh``) and authentication secret (``auth``).

Crypto is the libraries': http-ece encrypts each message with a fresh ephemeral key (as
pywebpush does), py-vapid signs the VAPID token. A token is signed once per push service origin
and reused for ``VAPID_TOKEN_LIFETIME`` (RFC 8292 allows up to 24 hours).

Sending. One pooled ``aiohttp.ClientSession`` per process, at most ``webpush_concurrency``
requests in flight (one semaphore; the pool keeps as many HTTP/1.1 connections alive), each
bounded by ``webpush_timeout_s``; a call to :meth:`WebPushChannel.send_alert` starts no new
request after its budget, as email does. aiohttp, not httpx, because on this path the client's
own cost decides throughput: measured here, httpx's native transport spends about 1,700 µs of
client CPU per request under concurrency (its pool checks every connection for expiry on each
request), aiohttp about 140 µs (``../shared/research/calibration.md``). Push services (FCM's web
push endpoint, Mozilla's autopush, Apple's) all accept HTTP/1.1; HTTP/2 would only save
connections.

Classifying replies (RFC 8030):

- 201 (or any 2xx): accepted;
- 404 or 410: the subscription is gone (the browser unsubscribed or it expired): refused and the
  endpoint is disabled;
- 429: too many requests: temporary, and retried no sooner than its ``Retry-After``; other
  sends to that push service in the same process wait for it too, without being tried;
- 5xx, a timeout, a refused or lost connection: temporary (a 503's ``Retry-After`` is honoured);
- 400, 413 and any other 4xx: refused (the same message would be refused again).

Rate. With ``webpush_rate_per_s`` set, each request first takes a token from the process's
bucket.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import http_ece  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02  # type: ignore[import-untyped]

from services.dispatch.channels.base import (
    Recipient,
    SendingChannel,
    SendOne,
    SendResult,
    parse_retry_after,
)
from services.dispatch.channels.ratelimit import TokenBucket
from services.dispatch.config import DispatchSettings
from services.dispatch.models import ChannelKind
from shared.events import AlertContent
from shared.logs import get_logger

log = get_logger(__name__)

SEND_BUDGET_S = 30.0
# RFC 8291: push services must accept records of 4096 octets. aes128gcm adds an 86-octet header
# (salt, record size, the 65-octet ephemeral key), a 16-octet tag and a padding delimiter.
MAX_RECORD_BYTES = 4096
MAX_PAYLOAD_BYTES = MAX_RECORD_BYTES - 86 - 16 - 1
VAPID_TOKEN_LIFETIME_S = 12 * 3600
# A token is replaced this long before it expires, so none reaches a push service stale.
VAPID_TOKEN_MARGIN_S = 3600

ENDPOINT_MAX_LENGTH = 1024
P256DH_LENGTH = 87  # 65 octets (an uncompressed P-256 point), base64url without padding
AUTH_LENGTH = 22  # 16 octets, base64url without padding

DISABLING_STATUSES = frozenset({404, 410})
RETRY_AFTER_STATUSES = frozenset({429, 503})
_ELLIPSIS = "…"


# --- subscriptions --------------------------------------------------------------------------


@dataclass(frozen=True)
class PushSubscription:
    """A browser's push subscription: where to POST, and the keys to encrypt for."""

    endpoint: str
    p256dh: str
    auth: str

    @property
    def origin(self) -> str:
        # Per push, on the hot path: a string cut, and urlsplit once per push service.
        start = self.endpoint.find("://")
        end = self.endpoint.find("/", start + 3) if start >= 0 else -1
        return _origin_of(self.endpoint if end < 0 else self.endpoint[:end])


@functools.lru_cache(maxsize=1024)
def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url_decode(text: str) -> bytes:
    """base64url with or without padding; raises ValueError for anything else."""
    if not text or any(c not in _BASE64URL for c in text.rstrip("=")):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check_subscription_keys(p256dh: str, auth: str) -> None:
    """Raise ValueError unless ``p256dh`` is a P-256 point and ``auth`` 16 octets."""
    raw_key = b64url_decode(p256dh)
    if len(raw_key) != 65 or raw_key[0] != 4:
        raise ValueError("keys.p256dh must be an uncompressed P-256 public key (65 octets)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_key)
    except ValueError as error:
        raise ValueError("keys.p256dh is not a point on P-256") from error
    if len(b64url_decode(auth)) != 16:
        raise ValueError("keys.auth must be 16 octets")


def subscription_address(subscription: PushSubscription) -> str:
    """The endpoint address stored for a subscription: compact JSON, keys without padding."""
    return json.dumps(
        {
            "endpoint": subscription.endpoint,
            "keys": {
                "p256dh": subscription.p256dh.rstrip("="),
                "auth": subscription.auth.rstrip("="),
            },
        },
        separators=(",", ":"),
    )


def parse_subscription_address(address: str) -> PushSubscription:
    """The subscription in a stored address; ValueError if it is not one."""
    try:
        data = json.loads(address)
        return PushSubscription(
            endpoint=str(data["endpoint"]),
            p256dh=str(data["keys"]["p256dh"]),
            auth=str(data["keys"]["auth"]),
        )
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError("not a web push subscription") from error


# --- rendering ------------------------------------------------------------------------------


def _payload(content: AlertContent) -> bytes:
    """The JSON the service worker shows as a notification, within one 4 KB push record.

    The body is shortened (at a character boundary, with an ellipsis) when the whole would not
    fit; everything else is short by construction (alerts limits headlines and URLs)."""
    message: dict[str, Any] = {
        "title": f"[{content.severity}] {content.headline}",
        "body": content.body,
        "alert_id": str(content.alert_id),
        "url": content.web,
        "severity": content.severity,
    }
    encoded = _compact(message)
    if len(encoded) <= MAX_PAYLOAD_BYTES:
        return encoded

    def shortened(length: int) -> bytes:
        message["body"] = content.body[:length].rstrip() + _ELLIPSIS
        return _compact(message)

    # The longest prefix of the body that fits (JSON escapes and UTF-8 make octets and
    # characters differ, so search rather than compute).
    shortest, longest = 0, len(content.body)
    while shortest < longest:
        middle = (shortest + longest + 1) // 2
        if len(shortened(middle)) <= MAX_PAYLOAD_BYTES:
            shortest = middle
        else:
            longest = middle - 1
    return shortened(shortest)


def _compact(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def push_urgency(content: AlertContent) -> str:
    """RFC 8030 Urgency: ``high`` wakes a sleeping phone at once; others may be batched."""
    if content.urgency == "Immediate" or content.severity == "Extreme":
        return "high"
    return "normal"


def encrypt(payload: bytes, subscription: PushSubscription) -> bytes:
    """RFC 8291: an ``aes128gcm`` body for the subscription's keys, with a fresh ephemeral key
    (what pywebpush's ``WebPusher.encode`` does, without its per-call copying)."""
    return bytes(
        http_ece.encrypt(
            payload,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=b64url_decode(subscription.p256dh),
            auth_secret=b64url_decode(subscription.auth),
            version="aes128gcm",
        )
    )


# --- VAPID ----------------------------------------------------------------------------------


class VapidSigner:
    """``Authorization: vapid t=<JWT>, k=<public key>`` per push service origin, cached."""

    def __init__(self, vapid: Vapid02, subject: str) -> None:
        self._vapid = vapid
        self._subject = subject
        self._tokens: dict[str, tuple[str, float]] = {}
        raw = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.application_server_key = b64url_encode(raw)

    def authorization(self, origin: str) -> str:
        now = time.time()
        cached = self._tokens.get(origin)
        if cached is not None and cached[1] - VAPID_TOKEN_MARGIN_S > now:
            return cached[0]
        expires = int(now) + VAPID_TOKEN_LIFETIME_S
        headers = self._vapid.sign({"aud": origin, "sub": self._subject, "exp": expires})
        header = str(headers["Authorization"])
        self._tokens[origin] = (header, float(expires))
        return header


# --- sending --------------------------------------------------------------------------------


def classify(status: int, reason: str, headers: Mapping[str, str], body: str) -> SendResult:
    """A push service's reply (RFC 8030) as a send result."""
    if 200 <= status <= 299:
        return SendResult.accepted(f"{status} {headers.get('location', '')}".strip())
    detail = f"{status} {reason} {body[:200]}".strip()
    if status in DISABLING_STATUSES:
        return SendResult.rejected(detail, address_invalid=True)
    if status in RETRY_AFTER_STATUSES:
        return SendResult.deferred(
            detail,
            retry_after_s=parse_retry_after(headers.get("retry-after")),
            provider_error=status >= 500,
        )
    if status >= 500:
        return SendResult.deferred(detail, provider_error=True)
    return SendResult.rejected(detail)


class WebPushChannel(SendingChannel):
    kind = ChannelKind.WEBPUSH

    def __init__(
        self,
        signer: VapidSigner,
        *,
        ttl_s: int,
        concurrency: int,
        timeout_s: float,
        send_budget_s: float = SEND_BUDGET_S,
        rate_limit: TokenBucket | None = None,
    ) -> None:
        super().__init__(
            concurrency=concurrency, send_budget_s=send_budget_s, rate_limit=rate_limit
        )
        self.signer = signer
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._client: aiohttp.ClientSession | None = None
        # Push service origin -> loop time before which it asked not to be sent to (a 429).
        self._paused_until: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> WebPushChannel:
        return cls(
            VapidSigner(settings.vapid, settings.webpush_vapid_subject),
            ttl_s=settings.webpush_ttl_s,
            concurrency=settings.webpush_concurrency,
            timeout_s=settings.webpush_timeout_s,
            send_budget_s=settings.send_budget_s,
            rate_limit=(
                TokenBucket(settings.webpush_rate_per_s, settings.webpush_rate_burst)
                if settings.webpush_rate_per_s > 0
                else None
            ),
        )

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._client is None:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency),
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
            )
        return self._client

    def _alert_headers(self, content: AlertContent) -> dict[str, str]:
        return {
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self._ttl_s),
            "Urgency": push_urgency(content),
            # A resend of the same alert (after a crash) replaces the copy still queued.
            "Topic": content.alert_id.hex,
        }

    async def prepare(self, content: AlertContent, deadline: float) -> SendOne:
        loop = asyncio.get_running_loop()
        payload = _payload(content)
        client = self._http()
        # Per alert: the headers all pushes share; per push service: the same plus its token.
        shared_headers = self._alert_headers(content)
        headers_for: dict[str, dict[str, str]] = {}

        async def send_one(recipient: Recipient) -> SendResult:
            try:
                subscription = parse_subscription_address(recipient.address)
            except ValueError as error:
                return SendResult.rejected(str(error), address_invalid=True)
            origin = subscription.origin
            now = loop.time()
            paused_until = self._paused_until.get(origin, 0.0)
            if now < paused_until:
                return SendResult.deferred(
                    "not attempted: the push service asked us to slow down",
                    attempted=False,
                    retry_after_s=paused_until - now,
                )
            headers = headers_for.get(origin)
            if headers is None:
                headers = {"Authorization": self.signer.authorization(origin), **shared_headers}
                headers_for[origin] = headers
            result = await self._post(client, payload, subscription, headers)
            if result.retry_after_s:
                self._paused_until[origin] = loop.time() + result.retry_after_s
            return result

        return send_one

    async def _post(
        self,
        client: aiohttp.ClientSession,
        payload: bytes,
        subscription: PushSubscription,
        headers: Mapping[str, str],
    ) -> SendResult:
        try:
            body = encrypt(payload, subscription)
        except ValueError as error:
            return SendResult.rejected(f"cannot encrypt for this subscription: {error}")
        try:
            async with client.post(subscription.endpoint, data=body, headers=headers) as response:
                # Read to the end, so that the connection goes back to the pool.
                reply = await response.read()
                return classify(
                    response.status,
                    response.reason or "",
                    response.headers,
                    reply.decode("utf-8", "replace") if reply else "",
                )
        except TimeoutError:
            return SendResult.deferred(f"no answer within {self._timeout_s:g} s")
        except (aiohttp.InvalidURL, ValueError) as error:
            return SendResult.rejected(
                f"not a usable endpoint: {error!s:.200}", address_invalid=True
            )
        except aiohttp.ClientConnectorError as error:
            return SendResult.deferred(
                f"cannot reach the push service: {error!s:.200}", provider_error=True
            )
        except (aiohttp.ClientError, OSError) as error:
            return SendResult.deferred(f"cannot reach the push service: {error!s:.200}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
