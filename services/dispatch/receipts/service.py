"""Recording provider delivery receipts.

Only Notify (SMS, letters) sends receipts. Email has none that Tawny reads (an SMTP 250 is as
far as it goes), and neither web push services nor FCM call a server back: their deliveries end
``sent``. A receipt finds its delivery by the provider reference kept when the message was
accepted: ``delivered`` sets ``delivered_at``; a failure makes it ``failed`` (it keeps
``sent_at``: it did leave), and a ``permanent-failure`` of an SMS disables the number. A
receipt for something no longer ``sent`` (settled by an earlier receipt) or unknown changes
nothing, so Notify's retries of a callback are harmless. Receipts for letters update the
letter's status.

Flushes, never commits: the request owns the transaction."""

from __future__ import annotations

import uuid

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.errors import ReceiptTooEarlyError
from services.dispatch.letters.repository import LetterRepository
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, LetterStatus
from services.dispatch.receipts.repository import ReceiptRepository
from services.dispatch.receipts.schemas import DELIVERED, FAILURES, NotifyReceipt
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)

# A chunk records its results within send_budget_s of claiming them.
RETRY_EARLY_RECEIPT_S = 30

RECEIPTS = Counter(
    "tawny_dispatch_receipts_total",
    "Provider delivery receipts, by status and whether they matched a message",
    ["status", "matched"],
)


class ReceiptService:
    def __init__(self, session: AsyncSession) -> None:
        self._receipts = ReceiptRepository(session)
        self._letters = LetterRepository(session)
        self._endpoints = MemberEndpointRepository(session)

    async def record_notify(self, receipt: NotifyReceipt) -> bool:
        """Apply one Notify callback; return whether it matched a message of ours."""
        reference = str(receipt.id)
        delivery_id = _as_uuid(receipt.reference)
        at = receipt.completed_at or utcnow()
        if receipt.status == DELIVERED:
            delivered = await self._receipts.mark_delivered(
                provider_reference=reference, delivery_id=delivery_id, at=at
            )
            matched = delivered is not None or await self._letters.record_receipt(
                provider_reference=reference, status=LetterStatus.DELIVERED, at=at, error=None
            )
        elif receipt.status in FAILURES:
            error = f"provider receipt: {receipt.status}"
            failed = await self._receipts.mark_failed(
                provider_reference=reference, delivery_id=delivery_id, error=error
            )
            if (
                failed is None
                and delivery_id is not None
                and await self._receipts.is_sending(delivery_id)
            ):
                raise ReceiptTooEarlyError(
                    "The message's hand-over is still being recorded; send it again later.",
                    headers={"Retry-After": str(RETRY_EARLY_RECEIPT_S)},
                )
            if (
                failed is not None
                and failed.channel is ChannelKind.SMS
                and receipt.status == "permanent-failure"
                and receipt.to
            ) and await self._endpoints.disable(
                member_id=failed.member_id, channel=ChannelKind.SMS, address=receipt.to
            ):
                log.warning(
                    "dispatch.endpoint.disabled",
                    member_id=str(failed.member_id),
                    channel=ChannelKind.SMS.value,
                    reason="the provider could not deliver to the number",
                )
            matched = failed is not None or await self._letters.record_receipt(
                provider_reference=reference, status=LetterStatus.FAILED, at=at, error=error
            )
        else:
            # An intermediate status (sending, pending): only final ones change anything.
            matched = False
        known = receipt.status == DELIVERED or receipt.status in FAILURES
        RECEIPTS.labels(receipt.status if known else "other", str(matched).lower()).inc()
        log.info(
            "dispatch.receipt.recorded",
            provider_reference=reference,
            status=receipt.status,
            matched=matched,
        )
        return matched


def _as_uuid(reference: str | None) -> uuid.UUID | None:
    """Our reference for an alert SMS is its delivery's id; others (a phone confirmation, a
    letter) are not deliveries."""
    if reference is None:
        return None
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None
