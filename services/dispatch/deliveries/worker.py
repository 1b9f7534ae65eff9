"""The delivery workers: claim recorded deliveries, hand them to their channel, record the outcome.
And the sweeper that resumes what a dead worker left behind.

Each dispatch process runs ``worker_tasks`` workers and one sweeper; any number of processes
share the same tables. A worker loops over three steps, each its own short transaction except
the sending:

1. **claim**: ``UPDATE deliveries SET status = 'sending', claimed_at = now(), attempts + 1`` on
   up to ``claim_size`` due ``created`` rows chosen ``ORDER BY priority, next_attempt_at ... FOR
   UPDATE SKIP LOCKED`` (Immediate urgency or Extreme severity first; rows another worker is
   claiming are skipped, not waited for), except a fifth taken from the other end of the queue
   (least urgent, latest due), so that a ward alert published while a London-wide one drains
   is sent within seconds, not after the last of the big one; in the same transaction, load
   their alerts' content and their members' endpoints. Commit.
2. **send** the chunk through its channels (bounded concurrency, at most ``send_budget_s``),
   once per alert, channel and language: each member reads the alert in the language they
   chose when it has a block in it (``reading_language``).
3. **record** each row's outcome, only where it is still ``sending``:
   - accepted: ``sent``;
   - refused for good (SMTP 5xx): ``failed``; a mailbox that does not exist (550 to RCPT) also
     disables the endpoint, so nothing more is sent to that address;
   - temporary (a 4xx reply, a timeout, a connection refused or lost): back to ``created`` with
     ``next_attempt_at`` = now + an exponential delay with jitter (``retry_base_delay_s`` x
     2^(attempt-1), capped at ``retry_max_delay_s``, between half and all of it), or ``failed``
     after ``max_attempts``; never sooner than the provider asked (a 429's ``Retry-After``);
   - no usable endpoint any more (disabled since): back to ``pending``, until one is verified.

**The in-flight window.** A process that dies between a provider accepting a message and
step 3 leaves that row ``sending``. The sweeper (every ``sweep_interval_s``, in every process)
makes rows claimed more than ``sending_timeout_s`` ago ``created`` again, and they are sent a
second time. So a crash resends at most the rows its workers held: ``worker_tasks x
claim_size`` per process (200 with the defaults), and in practice only those of them already
accepted. A resend carries the same Message-ID (the delivery id), so mail software that removes
duplicates by Message-ID can. Nothing is lost: every row ends ``sent`` or ``failed``. The
settings refuse a ``sending_timeout_s`` that a live, slow chunk could outlast (``send_budget_s``
+ ``smtp_timeout_s`` + 10 s), so the sweeper never takes rows from a worker that is alive;
a process stalled for longer than that (a stopped VM) can cause the same resends.

A graceful shutdown (SIGTERM) claims nothing more and lets each worker's chunk in hand finish
and be recorded (at most ``send_budget_s`` + ``smtp_timeout_s``), so a deploy resends nothing.

A row that keeps killing its worker is not retried forever: after ``max_attempts`` claims the
sweeper marks it ``failed``. The sweeper also releases ``pending`` rows recorded in the last
``PENDING_RACE_WINDOW`` whose member has since verified an address (a verification that
committed while the batch that missed it was being recorded; later verifications release their
member's rows themselves), and fails those whose alert is past its ``deliver_until``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter as MetricCounter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.channels.base import Channel, Outcome, Recipient, SendResult
from services.dispatch.channels.circuit import ProviderCircuit
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.repository import (
    ClaimedDelivery,
    DeliveryRepository,
    DeliveryResult,
)
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import LAST_ERROR_MAX_LENGTH, ChannelKind, DeliveryStatus
from services.dispatch.preferences.repository import PreferencesRepository
from shared.db import session_scope, utcnow
from shared.events import AlertContent, primary_language
from shared.logs import get_logger
from shared.polling import PollPause

log = get_logger(__name__)

DELIVERIES_RECORDED = MetricCounter(
    "tawny_dispatch_deliveries_total",
    "Delivery outcomes recorded, by channel and status (created: a retry was scheduled)",
    ["channel", "status"],
)
SWEPT = MetricCounter(
    "tawny_dispatch_swept_total",
    "Deliveries the sweeper changed, by what it did",
    ["action"],
)

# Alerts whose content a process keeps in memory; a chunk usually has one.
CONTENT_CACHE_MAX = 256
RECORD_TRIES = 3
# What a recipient the channel returned nothing for counts as (made once, not per row).
NO_RESULT = SendResult.deferred("the channel gave no result")
# A fifth of each claim (20 of the default 100) goes to the newest due rows: at a few hundred
# messages a second per process, a ward alert of a few thousand arrives within seconds while a
# London-wide one drains, and the big one keeps four fifths of the pace.
NEWEST_SHARE_DIVISOR = 5
# A batch's transaction (seconds at most) is the only time a verification can slip past it;
# the sweeper looks back far enough to cover that many times over.
PENDING_RACE_WINDOW = timedelta(minutes=10)


def reading_language(content: AlertContent, chosen: str | None) -> str:
    """The language a member reads ``content`` in: the one they chose when the alert has it,
    otherwise the alert's own (English, for alerts written in it)."""
    if chosen is not None and primary_language(chosen) in content.languages():
        return primary_language(chosen)
    return primary_language(content.language)


@dataclass(frozen=True)
class WorkerSettings:
    claim_size: int
    poll_interval_s: float
    max_attempts: int
    retry_base_delay_s: float
    retry_max_delay_s: float
    sending_timeout_s: float
    sweep_interval_s: float
    tasks: int = 1
    # An idle worker doubles its wait after each empty claim up to this (a wake-up, a LISTEN
    # notification or a claim that finds rows brings it back to ``poll_interval_s``).
    idle_poll_max_s: float = 2.0

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> WorkerSettings:
        return cls(
            claim_size=settings.claim_size,
            poll_interval_s=settings.poll_interval_s,
            max_attempts=settings.max_attempts,
            retry_base_delay_s=settings.retry_base_delay_s,
            retry_max_delay_s=settings.retry_max_delay_s,
            sending_timeout_s=settings.sending_timeout_s,
            sweep_interval_s=settings.sweep_interval_s,
            tasks=settings.worker_tasks,
            idle_poll_max_s=settings.idle_poll_max_s,
        )


@dataclass(frozen=True)
class SweepReport:
    resumed: int
    given_up: int
    released: int
    expired: int


def retry_delay(attempt: int, *, base_s: float, max_s: float) -> float:
    """Exponential, capped, and jittered between half and all of it, so that deliveries that
    failed together do not all come back together."""
    ceiling = min(max_s, base_s * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _short_error(text: str) -> str:
    return text[:LAST_ERROR_MAX_LENGTH]


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        channels: Mapping[ChannelKind, Channel],
        settings: WorkerSettings,
    ) -> None:
        self._sessions = sessions
        self._channels = channels
        # One per provider, shared by the process's worker tasks.
        self._circuits = {kind: ProviderCircuit(channel) for kind, channel in channels.items()}
        self._settings = settings
        self._contents: dict[uuid.UUID, AlertContent] = {}
        self._pause = PollPause(
            interval_s=settings.poll_interval_s, idle_max_s=settings.idle_poll_max_s
        )
        # A share of every claim from the newest, least urgent end of the queue, so that a small
        # alert published while a big one drains is not queued behind all of it.
        self._newest_share = settings.claim_size // NEWEST_SHARE_DIVISOR

    def wake(self) -> None:
        """Look for deliveries now rather than at the next poll (after a batch committed)."""
        self._pause.wake()

    # --- one chunk ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim, send and record one chunk; return how many deliveries were claimed."""
        async with session_scope(self._sessions) as session:
            claimed = await DeliveryRepository(session).claim(
                limit=self._settings.claim_size, newest_share=self._newest_share
            )
            if not claimed:
                return 0
            contents = await self._load_contents(session, {row.alert_id for row in claimed})
            member_ids = list({row.member_id for row in claimed})
            endpoints = await MemberEndpointRepository(session).usable_for(member_ids)
            languages = await PreferencesRepository(session).languages_of(member_ids)
        address_of = {(e.member_id, e.channel): e.address for e in endpoints}

        # One send per alert, channel and language the recipients read it in.
        groups: dict[tuple[uuid.UUID, ChannelKind, str], list[Recipient]] = defaultdict(list)
        results: dict[uuid.UUID, DeliveryResult] = {}
        for row in claimed:
            address = address_of.get((row.member_id, row.channel))
            if address is None or row.channel not in self._channels:
                results[row.delivery_id] = DeliveryResult(
                    row.delivery_id,
                    row.attempts,
                    DeliveryStatus.PENDING,
                    last_error="no usable endpoint when it was to be sent",
                )
            elif row.alert_id not in contents:
                results[row.delivery_id] = DeliveryResult(
                    row.delivery_id,
                    row.attempts,
                    DeliveryStatus.FAILED,
                    last_error="the alert is unknown",
                )
            else:
                language = reading_language(contents[row.alert_id], languages.get(row.member_id))
                groups[(row.alert_id, row.channel, language)].append(
                    Recipient(row.delivery_id, row.member_id, address)
                )

        sent = await asyncio.gather(
            *(
                self._circuits[channel].send_alert(
                    contents[alert_id].in_language(language), recipients
                )
                for (alert_id, channel, language), recipients in groups.items()
            )
        )
        invalid: list[tuple[uuid.UUID, ChannelKind, str]] = []
        by_id = {row.delivery_id: row for row in claimed}
        now = utcnow()
        for ((_alert_id, channel, _language), recipients), outcome in zip(
            groups.items(), sent, strict=True
        ):
            for recipient in recipients:
                result = outcome.get(recipient.delivery_id, NO_RESULT)
                if result.address_invalid:
                    invalid.append((recipient.member_id, channel, recipient.address))
                results[recipient.delivery_id] = self._as_recorded(
                    by_id[recipient.delivery_id], result, now
                )
        await self._record(list(results.values()), invalid)
        recorded = Counter(
            (by_id[result.delivery_id].channel.value, result.status) for result in results.values()
        )
        for (channel_name, status), count in recorded.items():
            DELIVERIES_RECORDED.labels(channel_name, status).inc(count)
        return len(claimed)

    def _as_recorded(
        self, row: ClaimedDelivery, result: SendResult, now: datetime
    ) -> DeliveryResult:
        if result.outcome is Outcome.ACCEPTED:
            return DeliveryResult(
                row.delivery_id,
                row.attempts,
                DeliveryStatus.SENT,
                sent_at=now,
                provider_reference=result.provider_reference,
            )
        if result.outcome is Outcome.REJECTED:
            return DeliveryResult(
                row.delivery_id,
                row.attempts,
                DeliveryStatus.FAILED,
                last_error=_short_error(f"refused: {result.detail}"),
            )
        if result.provider_outage:
            # Not this delivery's failure: due again after the provider's backoff, and the
            # attempt does not count, so an outage of any length never makes it failed.
            return DeliveryResult(
                row.delivery_id,
                row.attempts,
                DeliveryStatus.CREATED,
                last_error=_short_error(f"provider failing for everyone: {result.detail}"),
                next_attempt_at=now + timedelta(seconds=self._retry_in_s(row, result)),
                attempt_given_back=True,
            )
        if row.attempts >= self._settings.max_attempts:
            return DeliveryResult(
                row.delivery_id,
                row.attempts,
                DeliveryStatus.FAILED,
                last_error=_short_error(f"gave up after {row.attempts} attempts: {result.detail}"),
            )
        delay = self._retry_in_s(row, result)
        log.info(
            "dispatch.delivery.retry_scheduled",
            delivery_id=str(row.delivery_id),
            attempt=row.attempts,
            delay_s=round(delay, 1),
            detail=result.detail,
        )
        return DeliveryResult(
            row.delivery_id,
            row.attempts,
            DeliveryStatus.CREATED,
            last_error=_short_error(f"temporary failure (attempt {row.attempts}): {result.detail}"),
            next_attempt_at=now + timedelta(seconds=delay),
        )

    def _retry_in_s(self, row: ClaimedDelivery, result: SendResult) -> float:
        """The backoff for the row's attempt, never sooner than the provider asked."""
        delay = retry_delay(
            row.attempts,
            base_s=self._settings.retry_base_delay_s,
            max_s=self._settings.retry_max_delay_s,
        )
        return max(delay, result.retry_after_s or 0.0)

    async def _record(
        self,
        results: Sequence[DeliveryResult],
        invalid: Sequence[tuple[uuid.UUID, ChannelKind, str]],
    ) -> None:
        # The messages are out: losing these writes means sending them again after
        # sending_timeout_s. A brief database hiccup is worth a couple of quick tries.
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                async with session_scope(self._sessions) as session:
                    await DeliveryRepository(session).record_results(results)
                    endpoints = MemberEndpointRepository(session)
                    for member_id, channel, address in invalid:
                        if await endpoints.disable(
                            member_id=member_id, channel=channel, address=address
                        ):
                            log.warning(
                                "dispatch.endpoint.disabled",
                                member_id=str(member_id),
                                channel=channel.value,
                                reason="the address does not exist",
                            )
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt == RECORD_TRIES:
                    raise
                log.warning("dispatch.delivery.record_retry", attempt=attempt, exc_info=True)
                await asyncio.sleep(0.5 * attempt)

    async def _load_contents(
        self, session: AsyncSession, alert_ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, AlertContent]:
        missing = [alert_id for alert_id in alert_ids if alert_id not in self._contents]
        if missing:
            if len(self._contents) + len(missing) > CONTENT_CACHE_MAX:
                self._contents.clear()
            for alert_id, content in (
                await DeliveryRepository(session).alert_contents(missing)
            ).items():
                self._contents[alert_id] = AlertContent.model_validate(content)
        return {a: self._contents[a] for a in alert_ids if a in self._contents}

    # --- the sweeper -------------------------------------------------------------------------

    async def sweep(self) -> SweepReport:
        async with session_scope(self._sessions) as session:
            deliveries = DeliveryRepository(session)
            resumed, given_up = await deliveries.resume_stuck(
                claimed_before=utcnow() - timedelta(seconds=self._settings.sending_timeout_s),
                max_attempts=self._settings.max_attempts,
            )
            released = await deliveries.release_pending(
                recorded_after=utcnow() - PENDING_RACE_WINDOW
            )
            expired = await deliveries.expire_pending()
            if resumed or released:
                await deliveries.announce_due()
        report = SweepReport(resumed, given_up, released, expired)
        for action, count in (
            ("resumed", resumed),
            ("given_up", given_up),
            ("released", released),
            ("expired", expired),
        ):
            if count:
                SWEPT.labels(action).inc(count)
        if any((resumed, given_up, released, expired)):
            log.warning(
                "dispatch.sweeper.swept",
                resumed=resumed,
                given_up=given_up,
                released=released,
                expired=expired,
            )
        if resumed or released:
            self.wake()
        return report

    # --- the loops ---------------------------------------------------------------------------

    async def run_workers(self) -> None:
        async with asyncio.TaskGroup() as group:
            for index in range(self._settings.tasks):
                group.create_task(self._work(), name=f"delivery-worker-{index}")

    async def _work(self) -> None:
        while True:
            chunk = asyncio.ensure_future(self.run_once())
            try:
                # A shutdown (SIGTERM) lets the chunk in hand finish and record its outcome,
                # rather than leave it 'sending' for the sweeper to send again.
                claimed = await asyncio.shield(chunk)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await chunk
                raise
            except Exception:
                # The database is away, say: the rows stay where they are and are taken again.
                log.exception("dispatch.worker.failed")
                claimed = 0
                await asyncio.sleep(min(5.0, self._settings.poll_interval_s * 10))
            if claimed >= self._settings.claim_size:
                self._pause.reset()
            else:
                # Nothing at all: back off, so that an idle process costs next to nothing; rows
                # recorded anywhere wake it through LISTEN/NOTIFY (deliveries/wakeup.py), and
                # the backed-off poll only catches what nobody announces (retries coming due).
                await self._pause.after(claimed)

    async def run_sweeper(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch.sweeper.failed")
            await asyncio.sleep(self._settings.sweep_interval_s)
