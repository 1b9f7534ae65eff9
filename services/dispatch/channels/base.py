"""The one interface every delivery channel offers the delivery service.

A channel takes one alert and many recipients and returns one :class:`SendResult` per recipient.
It renders the alert its own way and talks to its own provider; it never touches the database,
and it does not raise for a provider's failure: that becomes a result, classified as permanent
(``REJECTED``: the same message to the same address will fail again) or temporary
(``DEFERRED``: the provider was unreachable or said "try later"). The delivery service records
results and decides what a temporary failure means for the batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

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
