"""SMS and letters through a GOV.UK Notify-compatible API.

Authentication. A Notify API key reads ``{key_name}-{service_id}-{secret}`` (both ids UUIDs).
Every request carries a fresh JWT (HS256 with the secret; ``iss`` the service id, ``iat`` now),
as Notify accepts a token for 30 seconds only.

Requests. ``POST /v2/notifications/sms`` (``phone_number``, ``template_id``,
``personalisation``, ``reference``) and ``POST /v2/notifications/letter`` (``template_id``,
``personalisation`` with ``address_line_1``..``address_line_7``, ``reference``). The
``reference`` is Tawny's own id (the delivery's, the letter's); Notify's notification ``id`` in
its 201 reply is kept as the provider reference, which its delivery receipts quote.

Classifying replies. 201: accepted. 400: permanent (a phone number Notify can't send to also
disables the endpoint). 403: permanent, and logged as an error: the API key is wrong, so every
message will fail until someone fixes the configuration. 429: deferred, with Notify's
Retry-After if it gives one (the worker backs off exponentially otherwise). 5xx, a timeout or a
lost connection: deferred. With ``notify_rate_per_s`` set, each request first takes a token from
the process's bucket.

Client. aiohttp, as for web push: the HTTP client's own CPU per request decides how many
messages a process sends (httpx's native transport costs about ten times aiohttp's under
concurrency, ``../shared/research/calibration.md``); Notify speaks HTTP/1.1.

Text. An SMS is one template whose whole text is ``((body))``:
:func:`services.dispatch.rendering.sms.alert_sms`, kept within ``sms_max_segments`` (segments
counted as providers bill them, :mod:`shared.sms`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

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
from services.dispatch.rendering.sms import alert_sms
from shared.events import AlertContent
from shared.logs import get_logger

log = get_logger(__name__)

UUID_LENGTH = 36
LETTER_ADDRESS_LINES = 7


class NotifyConfigurationError(ValueError):
    """The API key is not in Notify's format."""


@dataclass(frozen=True)
class NotifyKey:
    service_id: str
    secret: str

    @classmethod
    def parse(cls, api_key: str) -> NotifyKey:
        """``{key_name}-{service_id}-{secret}``: the last two parts are UUIDs (which contain
        dashes themselves), so they are read from the end."""
        secret = api_key[-UUID_LENGTH:]
        service_id = api_key[-(2 * UUID_LENGTH + 1) : -(UUID_LENGTH + 1)]
        try:
            uuid.UUID(secret)
            uuid.UUID(service_id)
        except ValueError as error:
            raise NotifyConfigurationError(
                "a Notify API key reads {key_name}-{service_id}-{secret}"
            ) from error
        if len(api_key) < 2 * UUID_LENGTH + 3 or api_key[-(2 * UUID_LENGTH + 2)] != "-":
            raise NotifyConfigurationError("a Notify API key starts with the key's name")
        return cls(service_id=service_id, secret=secret)

    def token(self) -> str:
        return jwt.encode(
            {"iss": self.service_id, "iat": int(time.time())}, self.secret, algorithm="HS256"
        )


# --- the API ----------------------------------------------------------------------------------


def _errors(text: str) -> str:
    try:
        errors = json.loads(text).get("errors", [])
        return "; ".join(f"{e.get('error', '')}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError, TypeError):
        return text[:200]


def classify(status: int, headers: Mapping[str, str], text: str) -> SendResult:
    """What one Notify reply means for the message (see the module's docstring)."""
    if status == 201:
        try:
            notification_id = str(json.loads(text)["id"])
        except (ValueError, KeyError, TypeError):
            return SendResult.accepted("201 without a notification id")
        return SendResult.accepted("201", provider_reference=notification_id)
    detail = f"{status} {_errors(text)}"
    if status == 429:
        return SendResult.deferred(
            detail, retry_after_s=parse_retry_after(headers.get("retry-after"))
        )
    if status >= 500:
        return SendResult.deferred(detail, provider_error=True)
    if status == 403:
        log.error("dispatch.notify.unauthorised", detail=detail)
        return SendResult.rejected(f"Notify refused our credentials: {detail}")
    if status == 400 and "phone_number" in detail:
        return SendResult.rejected(detail, address_invalid=True)
    return SendResult.rejected(detail)


class NotifyClient:
    """The Notify API: SMS and letters, one request each, ``concurrency`` at a time."""

    def __init__(
        self,
        *,
        base_url: str,
        key: NotifyKey,
        sms_template_id: str,
        letter_template_id: str,
        concurrency: int,
        timeout_s: float,
        rate_limit: TokenBucket | None = None,
    ) -> None:
        self._rate_limit = rate_limit
        self._base_url = base_url.rstrip("/")
        self._key = key
        self.sms_template_id = sms_template_id
        self.letter_template_id = letter_template_id
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._timeout_s = timeout_s
        self._client: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> NotifyClient | None:
        """The client, or None when no Notify API key is configured."""
        api_key = settings.notify_api_key_value
        if api_key is None:
            return None
        return cls(
            base_url=settings.notify_base_url,
            key=NotifyKey.parse(api_key),
            sms_template_id=settings.notify_sms_template_id,
            letter_template_id=settings.notify_letter_template_id,
            concurrency=settings.notify_concurrency,
            timeout_s=settings.notify_timeout_s,
            rate_limit=(
                TokenBucket(settings.notify_rate_per_s, max(1, settings.notify_concurrency))
                if settings.notify_rate_per_s > 0
                else None
            ),
        )

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._client is None:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency),
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
            )
        return self._client

    async def send_sms(
        self, *, phone_number: str, body: str, reference: str, not_after: float | None = None
    ) -> SendResult:
        """One SMS; not attempted if no request slot is free before ``not_after`` (loop time)."""
        return await self._post(
            "/v2/notifications/sms",
            {
                "phone_number": phone_number,
                "template_id": self.sms_template_id,
                "personalisation": {"body": body},
                "reference": reference,
            },
            not_after=not_after,
        )

    async def send_letter(
        self, *, address_lines: Sequence[str], personalisation: Mapping[str, str], reference: str
    ) -> SendResult:
        """A letter; ``address_lines`` (name first, postcode last) become ``address_line_N``."""
        if not 3 <= len(address_lines) <= LETTER_ADDRESS_LINES:
            return SendResult.rejected(
                f"a letter's address needs 3 to {LETTER_ADDRESS_LINES} lines, "
                f"not {len(address_lines)}"
            )
        lines = {f"address_line_{n}": line for n, line in enumerate(address_lines, start=1)}
        return await self._post(
            "/v2/notifications/letter",
            {
                "template_id": self.letter_template_id,
                "personalisation": {**lines, **personalisation},
                "reference": reference,
            },
        )

    async def _post(
        self, path: str, body: Mapping[str, Any], *, not_after: float | None = None
    ) -> SendResult:
        async with self._slots:
            if self._rate_limit is not None:
                await self._rate_limit.acquire()
            if not_after is not None and asyncio.get_running_loop().time() >= not_after:
                return SendResult.deferred(
                    "not attempted: the batch ran out of time", attempted=False
                )
            try:
                async with self._http().post(
                    f"{self._base_url}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {self._key.token()}"},
                ) as response:
                    text = (await response.read()).decode("utf-8", "replace")
                    return classify(response.status, response.headers, text)
            except TimeoutError:
                return SendResult.deferred(f"no answer within {self._timeout_s:g}s")
            except aiohttp.ClientConnectorError as error:
                return SendResult.deferred(f"request failed: {error!r}", provider_error=True)
            except (aiohttp.ClientError, OSError) as error:
                return SendResult.deferred(f"request failed: {error!r}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class SmsChannel(SendingChannel):
    """Alerts by SMS, to the UK mobile numbers members confirmed."""

    kind = ChannelKind.SMS

    def __init__(self, client: NotifyClient, *, max_segments: int, send_budget_s: float) -> None:
        # Notify's client holds the slots and the rate limit: letters and codes share them.
        super().__init__(concurrency=client.concurrency, send_budget_s=send_budget_s, gated=False)
        self._client = client
        self._max_segments = max_segments

    async def prepare(self, content: AlertContent, deadline: float) -> SendOne:
        text = alert_sms(content, self._max_segments)

        async def send_one(recipient: Recipient) -> SendResult:
            return await self._client.send_sms(
                phone_number=recipient.address,
                body=text,
                reference=str(recipient.delivery_id),
                not_after=deadline,
            )

        return send_one
