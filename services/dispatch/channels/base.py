"""The one interface every delivery channel offers the delivery service.

A channel takes one alert and many recipients and returns one :class:`SendResult` per recipient.
It renders the alert its own way and talks to its own provider; it never touches the database,
and it does not raise for a provider's failure: that becomes a result, classified as permanent
(``REJECTED``: the same message to the same address will fail again) or temporary
(``DEFERRED``: the provider was unreachable or said "try later"). The delivery service records
results and decides what a temporary failure means for the batch.
"""

from __future__ import annotations

import asyncio
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

from services.dispatch.channels.ratelimit import TokenBucket
from services.dispatch.models import ChannelKind
from shared.events import AlertContent

# A Retry-After longer than this is treated as this: the worker's backoff takes over.
MAX_RETRY_AFTER_S = 3600.0

# Provider replies can be long (a whole bounce explanation); keep what a person needs to act.
DETAIL_MAX_LENGTH = 300


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str = ""
    # False when the channel never tried (it ran out of time for the batch, say).
    attempted: bool = True
    # A permanent refusal because the address does not exist (SMTP 550 to RCPT): the endpoint
    # is disabled, so nothing more is sent to it until the member verifies another.
    address_invalid: bool = False
    # For a temporary failure: the provider asked not to be tried again sooner (an HTTP 429 or
    # 503 with Retry-After). The retry is scheduled no earlier than this many seconds from now.
    retry_after_s: float | None = None
    # The provider's id for an accepted message, which its delivery receipts will quote.
    provider_reference: str | None = None
    # A deferral because the provider is failing for everyone (channels/circuit.py): the row
    # stays due with backoff and the attempt does not count towards max_attempts.
    provider_outage: bool = False
    # A temporary failure of the provider itself (a refused connection, an HTTP 5xx), not of
    # the address and not mere slowness: what the circuit counts towards an outage.
    provider_error: bool = False
    # For a refusal that does not condemn the address (an SMTP 554 that is not 5.1.x): the
    # provider was accepting other messages around it (channels/circuit.py), so a refusal
    # repeated now is this message's or this address's, not the provider's.
    provider_accepting: bool = False

    @classmethod
    def accepted(cls, detail: str = "", *, provider_reference: str | None = None) -> SendResult:
        return cls(Outcome.ACCEPTED, _short(detail), provider_reference=provider_reference)

    @classmethod
    def rejected(cls, detail: str, *, address_invalid: bool = False) -> SendResult:
        return cls(Outcome.REJECTED, _short(detail), address_invalid=address_invalid)

    @classmethod
    def deferred(
        cls,
        detail: str,
        *,
        attempted: bool = True,
        retry_after_s: float | None = None,
        provider_outage: bool = False,
        provider_error: bool = False,
    ) -> SendResult:
        return cls(
            Outcome.DEFERRED,
            _short(detail),
            attempted,
            retry_after_s=retry_after_s,
            provider_outage=provider_outage,
            provider_error=provider_error,
        )


def parse_retry_after(value: str | None) -> float | None:
    """An HTTP Retry-After (RFC 9110: seconds, or a date) as seconds from now, capped at
    ``MAX_RETRY_AFTER_S``; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), MAX_RETRY_AFTER_S)


def _short(detail: str) -> str:
    one_line = " ".join(detail.split())
    if len(one_line) <= DETAIL_MAX_LENGTH:
        return one_line
    return one_line[: DETAIL_MAX_LENGTH - 1] + "…"


@dataclass(frozen=True)
class Recipient:
    """One delivery to make: its row's id, whom it is for, and their address on the channel."""

    delivery_id: uuid.UUID
    member_id: uuid.UUID
    address: str


class Channel(Protocol):
    @property
    def kind(self) -> ChannelKind: ...

    async def send_alert(
        self, content: AlertContent, recipients: Sequence[Recipient]
    ) -> Mapping[uuid.UUID, SendResult]:
        """Send ``content`` to every recipient; one result per recipient, by delivery id."""
        ...


SendOne = Callable[[Recipient], Awaitable[SendResult]]

# One instance for every recipient a chunk had no time left for: nothing personal in it.
OUT_OF_TIME = SendResult(
    Outcome.DEFERRED, "not attempted: the batch ran out of time", attempted=False
)


class SendingChannel(ABC):
    """The send skeleton every channel shares; a channel says only what differs: what it does
    once per alert (:meth:`prepare`: render, encode) and per recipient (the function it returns:
    stamp, encrypt, post).

    ``send_alert`` runs at most ``concurrency`` lanes, each taking the next recipient (one task
    per lane, not per recipient: a chunk of 500 costs a handful of tasks). With ``gated`` (the
    default), each send holds one of the process's ``concurrency`` slots and, with a rate
    limit, one token; none starts after ``send_budget_s``: those recipients get ``OUT_OF_TIME``,
    so the worker records the chunk before the sweeper's timeout. A channel whose client gates
    its own requests (SMS: Notify's client also posts letters) passes ``gated=False`` and
    honours the deadline :meth:`prepare` receives."""

    kind: ChannelKind

    def __init__(
        self,
        *,
        concurrency: int,
        send_budget_s: float,
        rate_limit: TokenBucket | None = None,
        gated: bool = True,
    ) -> None:
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._send_budget_s = send_budget_s
        self._rate_limit = rate_limit
        self._gated = gated

    @abstractmethod
    async def prepare(self, content: AlertContent, deadline: float) -> SendOne:
        """The per-alert work, once per call; returns the per-recipient send. ``deadline`` is
        the loop time after which no send may start (the skeleton checks it when gated)."""

    async def send_alert(
        self, content: AlertContent, recipients: Sequence[Recipient]
    ) -> dict[uuid.UUID, SendResult]:
        if not recipients:
            return {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._send_budget_s
        send = await self.prepare(content, deadline)
        results: dict[uuid.UUID, SendResult] = {}
        waiting = iter(recipients)
        slots, rate_limit = self._slots, self._rate_limit

        async def gated_lane() -> None:
            for recipient in waiting:
                async with slots:
                    if rate_limit is not None:
                        await rate_limit.acquire()
                    if loop.time() >= deadline:
                        results[recipient.delivery_id] = OUT_OF_TIME
                        continue
                    results[recipient.delivery_id] = await send(recipient)

        async def lane() -> None:
            for recipient in waiting:
                results[recipient.delivery_id] = await send(recipient)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self._concurrency, len(recipients))):
                group.create_task(gated_lane() if self._gated else lane())
        # In the recipients' order, as callers and logs expect.
        return {r.delivery_id: results[r.delivery_id] for r in recipients}
