"""The daily digest: at each member's digest hour, one email listing the low-severity alerts held
for it, and those deliveries marked ``sent``.

Runs in every dispatch process (every ``digest_interval_s``); any number of processes share it.
Each run, like a delivery worker, takes three steps:

1. **claim**, in one short transaction: held email deliveries due now (``next_attempt_at``,
   set to the member's next digest time when the batch was recorded), whole members at a time,
   marked ``sending`` (one process claims at a time: an advisory lock, for that transaction
   only); with them the alerts' content, the members'
   addresses and preferences;
2. **send** one email per member;
3. **record** every delivery of that email: ``sent`` when the server accepted it, ``failed``
   when it refused it for good, back to ``held`` a little later when it could not take it now
   (``failed`` after ``max_attempts``); back to ``pending`` when the member has no usable
   address any more.

Exactly once: a claimed row belongs to one run. A process that dies between the server's
acceptance and step 3 leaves its rows ``sending``; once their lease lapses the sweeper makes
them ``created`` and the delivery workers send each as its own alert email. Nothing is lost,
and only the digests in flight (one run's claim) can be received twice, once as a digest and
once one by one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.channels.base import Outcome, SendResult
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.repository import (
    ClaimedDelivery,
    DeliveryRepository,
    DeliveryResult,
    Lease,
)
from services.dispatch.deliveries.worker import OVER_RATE_RETRY_S, retry_delay
from services.dispatch.digests.repository import DigestRepository
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, DeliveryStatus
from services.dispatch.preferences.rules import DEFAULT_PREFERENCES, choose_language
from services.dispatch.preferences.service import PreferencesService
from services.dispatch.ratelimits.service import SharedTokenBucket
from services.dispatch.rendering.email import digest_email
from shared.db import session_scope, utcnow
from shared.events import AlertContent
from shared.logs import get_logger

log = get_logger(__name__)

DIGESTS_SENT = Counter(
    "tawny_dispatch_digests_total",
    "Daily digest emails handed to the SMTP server, by outcome",
    ["outcome"],
)

# The alerts service publishes one info block, in English.
ALERT_LANGUAGES = ("en",)
# Digest ids name the set of deliveries they carry: a retry of the same set keeps its
# Message-ID, so mail software that removes duplicates by Message-ID can.
_DIGEST_NAMESPACE = uuid.UUID("5b0c3f6e-4a7d-4c1e-9f2a-7d8e6b5a4c3d")


@dataclass(frozen=True)
class DigestSettings:
    claim_size: int
    max_attempts: int
    retry_base_delay_s: float
    retry_max_delay_s: float
    # Longest a run waits for the SMTP provider's shared rate limit (the send budget).
    rate_wait_s: float = 30.0


@dataclass(frozen=True)
class DigestReport:
    members: int
    deliveries: int
    sent: int


@dataclass(frozen=True)
class _Digest:
    member_id: uuid.UUID
    address: str | None
    language: str
    rows: list[ClaimedDelivery]
    contents: list[AlertContent]


def digest_id(rows: list[ClaimedDelivery]) -> uuid.UUID:
    return uuid.uuid5(_DIGEST_NAMESPACE, ",".join(sorted(str(row.delivery_id) for row in rows)))


class DigestSender:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        email: EmailChannel,
        settings: DigestSettings,
        lease: Lease,
        rate_limit: SharedTokenBucket | None = None,
    ) -> None:
        self._sessions = sessions
        # The SMTP provider's deployment-wide limit (services.dispatch.ratelimits), if set.
        self._rate_limit = rate_limit
        # The process's lease, which its delivery workers' lease keeper renews.
        self._lease = lease
        self._email = email
        self._settings = settings

    async def run_until_done(self) -> None:
        """Send every digest due now, one claim after another."""
        while (await self.run_once()).members:
            pass

    async def run_once(self, now: datetime | None = None) -> DigestReport:
        """Send every digest due at ``now`` (default: the present)."""
        now = now or utcnow()
        digests = await self._claim(now)
        if not digests:
            return DigestReport(0, 0, 0)
        granted = len(digests)
        if self._rate_limit is not None:
            granted = await self._rate_limit.take(granted, within_s=self._settings.rate_wait_s)
        outcomes = await asyncio.gather(*(self._send(digest) for digest in digests[:granted]))
        results: list[DeliveryResult] = []
        for digest, outcome in zip(digests[:granted], outcomes, strict=True):
            results.extend(self._as_recorded(digest, outcome, utcnow()))
        for digest in digests[granted:]:
            results.extend(self._over_rate(digest, utcnow()))
        async with session_scope(self._sessions) as session:
            await DeliveryRepository(session).record_results(results)
        sent = sum(1 for result in results if result.status is DeliveryStatus.SENT)
        report = DigestReport(len(digests), len(results), sent)
        log.info(
            "dispatch.digests.sent",
            members=report.members,
            deliveries=report.deliveries,
            sent=report.sent,
        )
        return report

    async def _claim(self, now: datetime) -> list[_Digest]:
        async with session_scope(self._sessions) as session:
            claimed = await DigestRepository(session).claim_due(
                now=now, limit=self._settings.claim_size, lease=self._lease
            )
            if not claimed:
                return []
            member_ids = list({row.member_id for row in claimed})
            contents = await DeliveryRepository(session).alert_contents(
                list({row.alert_id for row in claimed})
            )
            endpoints = await MemberEndpointRepository(session).usable_for(member_ids)
            preferences = await PreferencesService(session).of_members(member_ids)
        address_of = {e.member_id: e.address for e in endpoints if e.channel is ChannelKind.EMAIL}
        rows_of: dict[uuid.UUID, list[ClaimedDelivery]] = defaultdict(list)
        for row in claimed:
            rows_of[row.member_id].append(row)
        return [
            _Digest(
                member_id=member_id,
                address=address_of.get(member_id),
                language=choose_language(
                    ALERT_LANGUAGES, preferences.get(member_id, DEFAULT_PREFERENCES).language
                ),
                rows=rows,
                contents=[
                    AlertContent.model_validate(contents[row.alert_id])
                    for row in rows
                    if row.alert_id in contents
                ],
            )
            for member_id, rows in rows_of.items()
        ]

    async def _send(self, digest: _Digest) -> SendResult | None:
        """The email's result; None when the member has no usable address any more."""
        if digest.address is None:
            return None
        rendered = digest_email(
            digest.contents,
            unsubscribe_all_url=self._email.unsubscribe_all_url(digest.member_id),
            lang=digest.language,
        )
        message = self._email.digest_message(
            rendered,
            member_id=digest.member_id,
            to=digest.address,
            digest_id=digest_id(digest.rows),
        )
        result = await self._email.send_email(message, to=digest.address)
        DIGESTS_SENT.labels(result.outcome.value).inc()
        return result

    def _over_rate(self, digest: _Digest, now: datetime) -> list[DeliveryResult]:
        """Not attempted (the provider's shared rate limit gave no token in time): held again
        for a moment, the attempt given back."""
        return [
            DeliveryResult(
                row.delivery_id,
                row.attempts,
                DeliveryStatus.HELD,
                last_error="digest not attempted: over the provider's rate limit",
                next_attempt_at=now + timedelta(seconds=OVER_RATE_RETRY_S),
                attempt_given_back=True,
            )
            for row in digest.rows
        ]

    def _as_recorded(
        self, digest: _Digest, result: SendResult | None, now: datetime
    ) -> list[DeliveryResult]:
        def each(
            status: DeliveryStatus,
            *,
            last_error: str | None = None,
            sent_at: datetime | None = None,
            next_attempt_at: datetime | None = None,
        ) -> list[DeliveryResult]:
            return [
                DeliveryResult(
                    row.delivery_id,
                    row.attempts,
                    status,
                    last_error=last_error,
                    sent_at=sent_at,
                    next_attempt_at=next_attempt_at,
                )
                for row in digest.rows
            ]

        if result is None:
            return each(DeliveryStatus.PENDING, last_error="no usable endpoint for the digest")
        if result.outcome is Outcome.ACCEPTED:
            return each(DeliveryStatus.SENT, sent_at=now)
        if result.outcome is Outcome.REJECTED:
            return each(DeliveryStatus.FAILED, last_error=f"digest refused: {result.detail}")
        attempts = max(row.attempts for row in digest.rows)
        if attempts >= self._settings.max_attempts:
            return each(
                DeliveryStatus.FAILED,
                last_error=f"digest gave up after {attempts} attempts: {result.detail}",
            )
        delay = retry_delay(
            attempts,
            base_s=self._settings.retry_base_delay_s,
            max_s=self._settings.retry_max_delay_s,
        )
        return each(
            DeliveryStatus.HELD,
            last_error=f"digest temporary failure (attempt {attempts}): {result.detail}",
            next_attempt_at=now + timedelta(seconds=delay),
        )
