"""Mobile push: alerts as notifications to members' app installations, through the FCM HTTP v1
API (``POST {base}/v1/projects/{project}/messages:send``, one request per registration token).

Authentication. Each request carries an OAuth2 access token, obtained from a Google service
account's key: a JWT (RS256, signed with the key's private key; ``iss`` the account's email,
``scope`` firebase.messaging, ``aud`` the token URL) exchanged at the token URL for an access
token (the JWT bearer grant, RFC 7523). The token is cached and renewed shortly before it
expires; a 401 from FCM drops it and the message is tried once more with a fresh one.

Connections. One ``httpx.AsyncClient`` per process with HTTP/2, so the ``fcm_concurrency``
requests in flight share a connection or two rather than one each: FCM's v1 API is built for
HTTP/2 multiplexing, and httpx is the fitting asyncio client that speaks it (aiohttp does not).
With one or two connections, httpx's per-request scan of its pool (what makes it costly over
32 HTTP/1.1 connections, ``../shared/research/calibration.md``) stays short. A plain ``http://``
base URL, as the local sink uses, speaks HTTP/1.1 (HTTP/2 is negotiated by TLS ALPN): each
request in flight then holds a connection of its own, and the client goes through the
``httpx-aiohttp`` transport (about 300 µs of client CPU per request against httpx's own
1,700 µs over HTTP/1.1). So the benchmark, against the sink, measures that HTTP/1.1 path; the
HTTP/2 path to the real service is not measured here. With
``fcm_rate_per_s`` set, each request first takes a token from the process's bucket.

Classifying replies. 200: accepted, and the message's ``name`` kept as the provider reference.
404 or ``UNREGISTERED`` (the app was uninstalled), a 400 ``INVALID_ARGUMENT`` about the token,
and a 403 ``SENDER_ID_MISMATCH`` (the token belongs to another project): permanent, and the
endpoint is disabled. Any other 4xx: permanent for this message only. 429 and 503: deferred,
honouring ``Retry-After``; any other 5xx, a timeout or a lost connection: deferred.

FCM sends no delivery receipts to a server: an FCM delivery ends ``sent``, never ``delivered``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from httpx_aiohttp import AiohttpTransport

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

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# FCM refuses a message whose notification and data together exceed 4096 bytes.
MAX_PAYLOAD_BYTES = 4096
ASSERTION_LIFETIME_S = 3600
# An access token is renewed this long before it expires, so none is used as it lapses.
TOKEN_REFRESH_MARGIN_S = 300.0
TITLE_MAX_CHARS = 120
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


class FcmConfigurationError(ValueError):
    """The service-account key can't be used."""


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a Google service-account key that sign token requests."""

    client_email: str
    private_key: str
    private_key_id: str

    @classmethod
    def from_json(cls, text: str) -> ServiceAccount:
        try:
            key = json.loads(text)
            return cls(
                client_email=str(key["client_email"]),
                private_key=str(key["private_key"]),
                private_key_id=str(key.get("private_key_id", "")),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise FcmConfigurationError(f"not a service-account key: {error}") from error

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> ServiceAccount:
        if settings.fcm_service_account_json is not None:
            return cls.from_json(settings.fcm_service_account_json.get_secret_value())
        if settings.fcm_service_account_file is None:
            raise FcmConfigurationError("no service-account key configured")
        try:
            text = settings.fcm_service_account_file.read_text()
        except OSError as error:
            raise FcmConfigurationError(
                f"DISPATCH_FCM_SERVICE_ACCOUNT_FILE can't be read: {error}"
            ) from error
        return cls.from_json(text)


class AccessTokenError(Exception):
    """The token endpoint did not issue an access token."""


class AccessTokens:
    """One cached OAuth2 access token for the service account, renewed before it lapses."""

    def __init__(self, account: ServiceAccount, *, token_url: str) -> None:
        self._account = account
        self._token_url = token_url
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def assertion(self) -> str:
        now = int(time.time())
        headers = {"kid": self._account.private_key_id} if self._account.private_key_id else None
        return jwt.encode(
            {
                "iss": self._account.client_email,
                "scope": FCM_SCOPE,
                "aud": self._token_url,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME_S,
            },
            self._account.private_key,
            algorithm="RS256",
            headers=headers,
        )

    async def get(self, client: httpx.AsyncClient) -> str:
        loop = asyncio.get_running_loop()
        if self._token is not None and loop.time() < self._expires_at:
            return self._token
        # One request renews it for every send waiting on it.
        async with self._lock:
            if self._token is not None and loop.time() < self._expires_at:
                return self._token
            try:
                response = await client.post(
                    self._token_url,
                    data={"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()},
                )
            except httpx.HTTPError as error:
                raise AccessTokenError(f"token request failed: {error!r}") from error
            if response.status_code != 200:
                raise AccessTokenError(
                    f"token endpoint answered {response.status_code}: {response.text[:200]}"
                )
            try:
                body = response.json()
                token = str(body["access_token"])
                lifetime = float(body.get("expires_in", ASSERTION_LIFETIME_S))
            except (ValueError, KeyError, TypeError) as error:
                raise AccessTokenError(f"unreadable token response: {error}") from error
            self._token = token
            self._expires_at = loop.time() + max(0.0, lifetime - TOKEN_REFRESH_MARGIN_S)
            log.info("dispatch.fcm.token_renewed", expires_in_s=lifetime)
            return token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (FCM said 401), unless it has been renewed already."""
        if self._token == token:
            self._token = None


def _fits(message: Mapping[str, Any]) -> bool:
    return len(json.dumps(message, ensure_ascii=False).encode()) <= MAX_PAYLOAD_BYTES


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max(0, max_chars - 1)].rstrip() + "…"


def _payload(content: AlertContent) -> dict[str, Any]:
    """The message for one alert, without its token: a notification (headline, and the
    instruction or the body) and data an app can use to open the alert, within FCM's 4 KB.
    The body is shortened until the whole payload fits."""
    urgent = content.urgency == "Immediate" or content.severity == "Extreme"
    title = _cut(content.headline, TITLE_MAX_CHARS)
    text = content.instruction or content.body
    data = {
        "alert_id": str(content.alert_id),
        "msg_type": content.msg_type,
        "category": content.category,
        "severity": content.severity,
        "urgency": content.urgency,
        "sender_name": content.sender_name[:200],
        "sent_at": content.sent_at.isoformat(),
    }
    if content.web:
        data["web"] = content.web[:500]

    def build(body: str) -> dict[str, Any]:
        return {
            "notification": {"title": title, "body": body},
            "data": data,
            "android": {"priority": "high" if urgent else "normal"},
            "apns": {"headers": {"apns-priority": "10" if urgent else "5"}},
        }

    message = build(text)
    if _fits(message):
        return message
    # Binary search for the longest body that fits: characters vary from 1 to 4 bytes.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(build(_cut(text, middle))):
            low = middle
        else:
            high = middle - 1
    return build(_cut(text, low))


def _fcm_error(response: httpx.Response) -> tuple[str, str, str]:
    """(status, FCM error code, message) of an error reply, as far as it can be read."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return "", "", response.text[:200]
    if not isinstance(error, dict):
        return "", "", str(error)[:200]
    code = ""
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("@type") == FCM_ERROR_TYPE:
            code = str(detail.get("errorCode", ""))
        if isinstance(detail, dict) and detail.get("@type") == BAD_REQUEST_TYPE:
            fields = [str(v.get("field", "")) for v in detail.get("fieldViolations", [])]
            if any(field.endswith("token") for field in fields):
                code = code or "INVALID_ARGUMENT"
                return str(error.get("status", "")), code, "token: " + str(error.get("message"))
    return str(error.get("status", "")), code, str(error.get("message", ""))


def classify(response: httpx.Response) -> SendResult:
    """What one messages:send reply means for the delivery (see the module's docstring)."""
    status = response.status_code
    if status == 200:
        try:
            name = str(response.json()["name"])
        except (ValueError, KeyError, TypeError):
            name = None
        return SendResult.accepted("200", provider_reference=name)
    error_status, code, message = _fcm_error(response)
    detail = f"{status} {code or error_status}: {message}".strip()
    if status in (429, 503):
        return SendResult.deferred(
            detail,
            retry_after_s=parse_retry_after(response.headers.get("retry-after")),
            provider_error=status == 503,
        )
    if status >= 500:
        return SendResult.deferred(detail, provider_error=True)
    if status == 404 or code in ("UNREGISTERED", "SENDER_ID_MISMATCH"):
        return SendResult.rejected(detail, address_invalid=True)
    if status == 400 and message.startswith("token:"):
        return SendResult.rejected(detail, address_invalid=True)
    return SendResult.rejected(detail)


class FcmChannel(SendingChannel):
    """The mobile push channel."""

    kind = ChannelKind.FCM

    def __init__(
        self,
        *,
        base_url: str,
        project_id: str,
        tokens: AccessTokens,
        concurrency: int,
        timeout_s: float,
        send_budget_s: float,
        rate_limit: TokenBucket | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            concurrency=concurrency, send_budget_s=send_budget_s, rate_limit=rate_limit
        )
        self._send_url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._tokens = tokens
        self._timeout_s = timeout_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> FcmChannel | None:
        """The channel, or None when FCM is not configured."""
        if not settings.fcm_enabled or settings.fcm_project_id is None:
            return None
        return cls(
            base_url=settings.fcm_base_url,
            project_id=settings.fcm_project_id,
            tokens=AccessTokens(
                ServiceAccount.from_settings(settings), token_url=settings.fcm_token_url
            ),
            concurrency=settings.fcm_concurrency,
            timeout_s=settings.fcm_timeout_s,
            send_budget_s=settings.send_budget_s,
            rate_limit=(
                TokenBucket(settings.fcm_rate_per_s, max(1, settings.fcm_concurrency))
                if settings.fcm_rate_per_s > 0
                else None
            ),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self._concurrency, max_keepalive_connections=self._concurrency
            )
            transport = self._transport
            if transport is None and self._send_url.startswith("http://"):
                # Without TLS there is no ALPN, so no HTTP/2: one connection per request in
                # flight, where httpx's own pool costs most. aiohttp's transport does that part.
                transport = AiohttpTransport(limits=limits)
            self._client = httpx.AsyncClient(
                http2=True, timeout=self._timeout_s, limits=limits, transport=transport
            )
        return self._client

    async def prepare(self, content: AlertContent, deadline: float) -> SendOne:
        # The alert's JSON encoded once; per recipient only their registration token is added.
        opening = json.dumps({"message": _payload(content)}, ensure_ascii=False)[: -len("}}")]

        async def send_one(recipient: Recipient) -> SendResult:
            message = f'{opening}, "token": {json.dumps(recipient.address)}}}}}'.encode()
            try:
                # The whole hand-over, token renewal and a retry after a 401 included.
                async with asyncio.timeout(self._timeout_s):
                    return await self._send(message)
            except TimeoutError:
                return SendResult.deferred(f"no answer within {self._timeout_s:g}s")

        return send_one

    async def _send(self, message: bytes) -> SendResult:
        outcome = await self._post(message)
        if isinstance(outcome, str):
            # The token was revoked or expired early: once more with a fresh one.
            self._tokens.invalidate(outcome)
            outcome = await self._post(message)
        if isinstance(outcome, str):
            return SendResult.deferred("401 from FCM with a fresh access token")
        return outcome

    async def _post(self, message: bytes) -> SendResult | str:
        """The send's result, or the access token FCM refused with a 401."""
        client = self._http()
        try:
            token = await self._tokens.get(client)
        except AccessTokenError as error:
            return SendResult.deferred(str(error))
        try:
            response = await client.post(
                self._send_url,
                content=message,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.ConnectError as error:
            return SendResult.deferred(f"request failed: {error!r}", provider_error=True)
        except httpx.HTTPError as error:
            return SendResult.deferred(f"request failed: {error!r}")
        if response.status_code == 401:
            return token
        return classify(response)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
