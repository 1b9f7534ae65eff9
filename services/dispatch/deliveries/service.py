"""Delivering one recipient batch, and counting what became of an alert's deliveries.

Flushes, never commits. A batch is handled inside the ``dispatch.deliveries`` consumer's one
transaction, which also records the event as processed:

1. load every endpoint of the batch's members in one query; members with none on any channel
   dispatch can send on are counted (``tawny_dispatch_recipients_without_endpoint_total``) and
   logged, and get nothing;
2. ``INSERT ... ON CONFLICT (alert_id, member_id, channel) DO NOTHING RETURNING`` one row per
   (member, channel): only rows that did not exist come back, and only those are sent. A batch
   delivered again, even under a new event id, therefore sends nothing twice;
3. hand the new deliveries to their channel (email: bounded concurrency, reused connections);
4. record each as ``sent`` (with ``sent_at``) or ``failed`` (with ``last_error``) in the same
   transaction, which the consumer then commits.

The in-flight window. Sending happens before the commit. If the process dies after the mail
server accepted messages but before the commit, the rows, the processed-event record and the
offset are all lost together, so the batch is handled again and those messages are sent a
second time: at most the one batch in flight (500 members) per crashed dispatcher. Each email's
Message-ID is its delivery id, but a retried batch inserts new rows with new ids, so receiving
mail software cannot tell the copies apart. A later issue narrows this window (deliveries
committed as ``created`` before sending, each claimed and sent on its own).

Temporary failures. Raising makes the consumer retry the whole event, and a raise rolls back
everything, including the rows of messages the server had already accepted: a retry would send
those again. So:

- if some results are temporary (the server unreachable, a 4xx reply, out of time) and NOTHING
  was accepted, raise ``ChannelUnavailableError``: nothing was delivered, so rolling back and
  retrying with backoff duplicates nothing. Permanent refusals in that batch are simply asked
  again on the retry. After the consumer's last attempt the batch goes to the dead-letter topic,
  from which an operator can replay it.
- if anything was accepted, commit: accepted rows become ``sent``, and temporary failures become
  ``failed`` with ``last_error`` saying so, rather than risk resending the accepted ones. Those
  are not retried in this skeleton; the later retries issue schedules them.

Permanent failures (a 5xx: unknown mailbox, content refused) are ``failed`` with the server's
reply in ``last_error``; sending the same message again cannot succeed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.base import Channel, Outcome, Recipient, SendResult
from services.dispatch.deliveries.repository import DeliveryRepository, DeliveryResult
from services.dispatch.deliveries.schemas import DeliverySummary
from services.dispatch.errors import ChannelUnavailableError
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import LAST_ERROR_MAX_LENGTH, ChannelKind, DeliveryStatus
from shared.db import utcnow
from shared.events import RecipientBatch
from shared.logs import get_logger

log = get_logger(__name__)

RECIPIENTS_WITHOUT_ENDPOINT = Counter(
    "tawny_dispatch_recipients_without_endpoint_total",
    "Members in recipient batches who had no usable endpoint, so were sent nothing",
)
DELIVERIES_RECORDED = Counter(
    "tawny_dispatch_deliveries_total",
    "Deliveries recorded, by channel and final status",
    ["channel", "status"],
)

NO_CHANNELS: Mapping[ChannelKind, Channel] = MappingProxyType({})
# Enough ids in a log line to look a few up, without a 500-id line.
LOGGED_IDS_MAX = 20


@dataclass(frozen=True)
class BatchReport:
    members: int
    sent: int
    failed: int
    already_recorded: int
    without_endpoint: int


class DeliveryService:
    def __init__(
        self, session: AsyncSession, *, channels: Mapping[ChannelKind, Channel] = NO_CHANNELS
    ) -> None:
        self._endpoints = MemberEndpointRepository(session)
        self._deliveries = DeliveryRepository(session)
        self._channels = channels

    async def deliver_batch(self, batch: RecipientBatch) -> BatchReport:
        content = batch.content
        member_ids = list(dict.fromkeys(batch.member_ids))
        endpoints = [
            endpoint
            for endpoint in await self._endpoints.usable_for(member_ids)
            if endpoint.channel in self._channels
        ]
        reachable = {endpoint.member_id for endpoint in endpoints}
        unreachable = [member_id for member_id in member_ids if member_id not in reachable]

        created = await self._deliveries.insert_new(
            alert_id=content.alert_id,
            targets=[(endpoint.member_id, endpoint.channel) for endpoint in endpoints],
        )
        address_of = {(e.member_id, e.channel): e.address for e in endpoints}
        recipients: dict[ChannelKind, list[Recipient]] = defaultdict(list)
        for delivery_id, member_id, channel in created:
            recipients[channel].append(
                Recipient(delivery_id, member_id, address_of[(member_id, channel)])
            )

        results: dict[uuid.UUID, SendResult] = {}
        for channel, channel_recipients in recipients.items():
            sent = await self._channels[channel].send_alert(content, channel_recipients)
            for recipient in channel_recipients:
                results[recipient.delivery_id] = sent.get(
                    recipient.delivery_id, SendResult.deferred("the channel gave no result")
                )
        _raise_if_nothing_was_handed_over(batch, list(results.values()))
        # Counted only now: a batch handed back for a retry would otherwise count them twice.
        if unreachable:
            RECIPIENTS_WITHOUT_ENDPOINT.inc(len(unreachable))
            log.info(
                "dispatch.batch.members_without_endpoint",
                alert_id=str(content.alert_id),
                batch_number=batch.batch_number,
                count=len(unreachable),
                member_ids=[str(member_id) for member_id in unreachable[:LOGGED_IDS_MAX]],
            )

        now = utcnow()
        recorded = [
            _as_recorded(delivery_id, result, now) for delivery_id, result in results.items()
        ]
        await self._deliveries.record_results(recorded)
        channel_of = {delivery_id: channel for delivery_id, _member_id, channel in created}
        for row in recorded:
            DELIVERIES_RECORDED.labels(channel_of[row.delivery_id].value, row.status.value).inc()

        report = BatchReport(
            members=len(member_ids),
            sent=sum(row.status is DeliveryStatus.SENT for row in recorded),
            failed=sum(row.status is DeliveryStatus.FAILED for row in recorded),
            already_recorded=len(endpoints) - len(created),
            without_endpoint=len(unreachable),
        )
        log.info(
            "dispatch.batch.delivered",
            alert_id=str(content.alert_id),
            batch_number=batch.batch_number,
            members=report.members,
            sent=report.sent,
            failed=report.failed,
            already_recorded=report.already_recorded,
            without_endpoint=report.without_endpoint,
        )
        return report

    async def summarise(self, alert_id: uuid.UUID) -> DeliverySummary:
        channels: dict[ChannelKind, dict[DeliveryStatus, int]] = {}
        for channel, status, count in await self._deliveries.count_by_channel_and_status(alert_id):
            counts = channels.setdefault(channel, dict.fromkeys(DeliveryStatus, 0))
            counts[status] = count
        total = sum(sum(counts.values()) for counts in channels.values())
        return DeliverySummary(alert_id=alert_id, total=total, channels=channels)


def _raise_if_nothing_was_handed_over(batch: RecipientBatch, results: Sequence[SendResult]) -> None:
    deferred = [result for result in results if result.outcome is Outcome.DEFERRED]
    if not deferred or any(result.outcome is Outcome.ACCEPTED for result in results):
        return
    log.warning(
        "dispatch.batch.channel_unavailable",
        alert_id=str(batch.content.alert_id),
        batch_number=batch.batch_number,
        deferred=len(deferred),
        detail=deferred[0].detail,
    )
    raise ChannelUnavailableError(
        "No message of the batch could be handed over; it will be tried again.",
        reason=deferred[0].detail,
    )


def _as_recorded(delivery_id: uuid.UUID, result: SendResult, now: datetime) -> DeliveryResult:
    attempts = 1 if result.attempted else 0
    if result.outcome is Outcome.ACCEPTED:
        return DeliveryResult(delivery_id, DeliveryStatus.SENT, attempts, None, now)
    if result.outcome is Outcome.REJECTED:
        error = f"refused: {result.detail}"
    else:
        error = f"temporary failure, not retried: {result.detail}"
    return DeliveryResult(
        delivery_id, DeliveryStatus.FAILED, attempts, error[:LAST_ERROR_MAX_LENGTH], None
    )
