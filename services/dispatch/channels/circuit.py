"""A provider-wide failure is not a bad address: one circuit per channel (per provider).

A relay that answers 554 to everyone for ten seconds, or a push service that refuses
connections, fails every message sent to it; marking those deliveries ``failed`` (or using up
their attempts) would lose them. So the worker sends each chunk through the channel's
:class:`ProviderCircuit`:

- **Telling them apart.** A failure that says nothing about the address (a refusal that does not
  disable it, an HTTP 5xx, a refused connection; not a timeout) counts towards the provider's run
  of failures; any accepted message ends the run. When a chunk's group takes the run to
  ``OUTAGE_FAILURES`` or more with nothing accepted, or has at least that many such failures and
  no more acceptances than failures (the outage began during the chunk), the provider is out:
  every failure of that group becomes a deferral marked ``provider_outage`` (the worker keeps the
  row due with backoff and gives its attempt back, so an outage never makes it ``failed``). A
  refusal amid acceptances is that address's (once confirmed, below).
- **Open.** For ``backoff_s`` after an outage (doubling with each outage in a row, up to
  ``MAX_BACKOFF_S``) nothing is sent to the provider: recipients get a deferral with that
  ``retry_after_s``. Then one chunk is tried (half-open): an acceptance closes the circuit,
  another outage opens it again for longer.
- **Not sure yet.** The first refusals of an outage look like refusals of their addresses: a
  chunk's group goes out in slices judged as each ends, and a small slice can end before the
  run is long enough to be called an outage (an outage may also begin amid acceptances). So a
  refusal that does not condemn the address is never final at first sight: the worker holds
  it for a retry (its attempt counts), and makes it final only when it is refused again while
  the provider is accepting others (``provider_accepting``: an acceptance in the same slice or
  within ``ACCEPTING_WINDOW_S``, and no outage). A refusal that does condemn the address (SMTP
  5.1.x, a push subscription gone) is final at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace

from services.dispatch.channels.base import Channel, Outcome, Recipient, SendResult
from shared.events import AlertContent
from shared.logs import get_logger

log = get_logger(__name__)

# Failures in a row, with no acceptance among them, that mean the provider (not the addresses).
OUTAGE_FAILURES = 5
FIRST_BACKOFF_S = 5.0
MAX_BACKOFF_S = 300.0
# How recent an acceptance must be for the provider to count as accepting others. Shorter than
# the first retry delay (half of ``retry_base_delay_s`` at least), so that an acceptance seen
# before a held refusal's first try cannot confirm it at the second.
ACCEPTING_WINDOW_S = 10.0


def _says_nothing_about_the_address(result: SendResult) -> bool:
    """A refusal that does not condemn the address, or the provider failing (a refused
    connection, a 5xx); not a timeout, which a loaded provider or a loaded box also gives."""
    if result.outcome is Outcome.REJECTED:
        return not result.address_invalid
    return result.outcome is Outcome.DEFERRED and result.provider_error


class ProviderCircuit:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._failures_in_a_row = 0
        self._outages_in_a_row = 0
        self._open_until = 0.0
        self._last_acceptance_at: float | None = None

    @property
    def is_open(self) -> bool:
        return asyncio.get_running_loop().time() < self._open_until

    async def send_alert(
        self, content: AlertContent, recipients: Sequence[Recipient]
    ) -> Mapping[uuid.UUID, SendResult]:
        now = asyncio.get_running_loop().time()
        if now < self._open_until:
            wait_s = self._open_until - now
            return {
                r.delivery_id: SendResult.deferred(
                    "not attempted: the provider is failing for everyone (circuit open)",
                    attempted=False,
                    retry_after_s=wait_s,
                    provider_outage=True,
                )
                for r in recipients
            }
        results = await self._channel.send_alert(content, recipients)
        return self._judge(results)

    def _judge(self, results: Mapping[uuid.UUID, SendResult]) -> Mapping[uuid.UUID, SendResult]:
        now = asyncio.get_running_loop().time()
        accepted = sum(r.outcome is Outcome.ACCEPTED for r in results.values())
        failed = sum(_says_nothing_about_the_address(r) for r in results.values())
        if accepted:
            self._failures_in_a_row = 0
            self._last_acceptance_at = now
        self._failures_in_a_row += failed
        # The results of concurrent sends come without their order: an outage that began
        # during this chunk shows as most of it failing, after a few acceptances.
        began_here = failed >= OUTAGE_FAILURES and failed >= accepted
        if not began_here and (accepted or self._failures_in_a_row < OUTAGE_FAILURES):
            if accepted:
                self._outages_in_a_row = 0
            return self._mark_refusals(results, now)
        if now < self._open_until:
            # Another send that was under way when the circuit opened (a concurrent slice or
            # worker) saw the same outage: it is one outage, not another doubling.
            backoff_s = self._open_until - now
        else:
            self._outages_in_a_row += 1
            backoff_s = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (self._outages_in_a_row - 1))
            self._open_until = now + backoff_s
            log.warning(
                "dispatch.provider.circuit_opened",
                channel=self._channel.kind.value,
                failures_in_a_row=self._failures_in_a_row,
                backoff_s=backoff_s,
            )
        return {
            delivery_id: (
                replace(
                    result,
                    outcome=Outcome.DEFERRED,
                    retry_after_s=max(result.retry_after_s or 0.0, backoff_s),
                    provider_outage=True,
                )
                if _says_nothing_about_the_address(result)
                else result
            )
            for delivery_id, result in results.items()
        }

    def _mark_refusals(
        self, results: Mapping[uuid.UUID, SendResult], now: float
    ) -> Mapping[uuid.UUID, SendResult]:
        """Refusals that do not condemn their address, marked ``provider_accepting`` when the
        provider accepted something within ``ACCEPTING_WINDOW_S`` (the worker then makes a
        refusal repeated at such a time final)."""
        accepting = (
            self._last_acceptance_at is not None
            and now - self._last_acceptance_at <= ACCEPTING_WINDOW_S
        )
        if not accepting:
            return results
        return {
            delivery_id: (
                replace(result, provider_accepting=True)
                if result.outcome is Outcome.REJECTED and not result.address_invalid
                else result
            )
            for delivery_id, result in results.items()
        }
