"""The delivery workers: claim recorded deliveries, hand them to their channel, record the outcome.
And the sweeper that resumes what a dead worker left behind.

Each dispatch process runs ``worker_tasks`` workers per channel it sends (email, web push, and
FCM and SMS when configured) and one sweeper; any number of processes share the same tables.
A worker claims only its own channel's rows, so a slow channel never holds up a fast one: with
chunks mixing channels, a London-wide alert's pushes (done in under two minutes by a bare
sender) finished with its email, eighteen minutes later, because a worker claims again only
once its whole chunk is done (BENCHMARKS.md). Each channel's workers back off on their own
when idle, so an idle channel changes nothing for the others, and rows of a channel a process
does not send are left to the processes that do. A worker loops over three steps, each its own
short transaction except the sending:

1. **claim**: ``UPDATE deliveries SET status = 'sending', claimed_at, claimed_by, lease_expires_at,
   attempts + 1`` on up to ``claim_size`` due ``created`` rows of its channel chosen ``WHERE
   channel = ... ORDER BY priority, next_attempt_at ... FOR UPDATE SKIP LOCKED`` (Immediate
   urgency or Extreme severity first; rows another worker is claiming are skipped, not waited
   for; an index probe on ``ix_deliveries_claimable_by_channel``), under the process's lease
   (:mod:`services.dispatch.deliveries.leases`); in the same transaction, load their alerts' content
   and their members' endpoints. Commit. A fifth of the rows come from the other end of the
   channel's queue (least urgent, latest due), so that a ward alert published while a
   London-wide one drains is sent within seconds, not after the last of the big one.
2. **send** the chunk through its channel (bounded concurrency, at most ``send_budget_s``),
   once per alert, channel and language: each member reads the alert in the language they
   chose when it has a block in it (``reading_language``).
3. **record** each row's outcome, only where it is still ``sending``:
   - accepted: ``sent``;
   - refused for good: ``failed``. A mailbox that does not exist (SMTP 5.1.x, a push
     subscription gone) at once, and it disables the endpoint, so nothing more is sent to that
     address. Any other refusal (an SMTP 554, say) is held for a retry like a temporary
     failure and is final only when refused again while the provider accepts others: the first
     refusals of a provider-wide outage look the same (channels/circuit.py);
   - temporary (a 4xx reply, a timeout, a connection refused or lost): back to ``created`` with
     ``next_attempt_at`` = now + an exponential delay with jitter (``retry_base_delay_s`` x
     2^(attempt-1), capped at ``retry_max_delay_s``, between half and all of it), or ``failed``
     after ``max_attempts``; never sooner than the provider asked (a 429's ``Retry-After``);
   - no usable endpoint any more (disabled since): back to ``pending``, until one is verified.

**The in-flight window.** A process that dies between a provider accepting a message and
step 3 leaves that row ``sending``, and stops renewing its lease. The sweeper (every
``sweep_interval_s``, in every process) makes rows whose lease lapsed ``created`` again, and
they are sent a second time: due again within ``lease_s + sweep_interval_s`` of the death (15 s
with the defaults). Only those the provider had accepted and the worker had not yet written
come twice: a chunk's group goes out in slices of ``record_slice`` recipients, all under way at
once, and each slice's acceptances are written as ``sent`` as soon as it ends
(:class:`AcceptanceRecorder`), so the window is the messages on the wire and the slices under
way, not the ``worker_tasks x channels x claim_size`` rows a process holds.
A resend carries the same Message-ID (the delivery id), so mail software that removes
duplicates by Message-ID can. Nothing is lost: every row ends ``sent`` or ``failed``. A live
process renews its leases however slow its chunk, so the sweeper never takes rows from it; the
sending timeout (``sending_timeout_s``, which the settings keep above ``send_budget_s`` + the
slowest channel timeout + 10 s) remains a backstop for a chunk that never ends.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import NoOpTracer, Tracer
from prometheus_client import Counter as MetricCounter
from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.channels.base import Channel, Outcome, Recipient, SendResult
from services.dispatch.channels.circuit import ProviderCircuit
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.leases import LeaseKeeper
from services.dispatch.deliveries.repository import (
    ClaimedDelivery,
    DeliveryRepository,
    DeliveryResult,
    Lease,
)
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import LAST_ERROR_MAX_LENGTH, ChannelKind, DeliveryStatus
from services.dispatch.preferences.repository import PreferencesRepository
from services.dispatch.preferences.rules import SEVERITIES
from services.dispatch.ratelimits.service import SharedTokenBucket
from shared.db import session_scope, utcnow
from shared.events import AlertContent, primary_language
from shared.logs import get_logger
from shared.polling import PollPause
from shared.tracing import batch_span

log = get_logger(__name__)

DELIVERIES_RECORDED = MetricCounter(
    "tawny_dispatch_deliveries_total",
    "Delivery outcomes recorded, by channel and status (created: a retry was scheduled)",
    ["channel", "status"],
)
PUBLISH_TO_SEND = Histogram(
    "tawny_dispatch_publish_to_send_seconds",
    "From an alert's publication (the CAP sent time its alert.published event carries) to a "
    "provider accepting it for one member, by channel and the alert's severity; digest "
    "deliveries, held on purpose, are not counted",
    ["channel", "severity"],
    # Seconds for an urgent alert on a healthy path, hours for a backlog or quiet hours.
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400),
)
SWEPT = MetricCounter(
    "tawny_dispatch_swept_total",
    "Deliveries the sweeper changed, by what it did",
    ["action"],
)

# A recipient the provider's shared rate limit gave no token for within the send budget: not
# attempted, due again after OVER_RATE_RETRY_S with its attempt given back.
OVER_RATE = SendResult.deferred("not attempted: over the provider's rate limit", attempted=False)
OVER_RATE_RETRY_S = 1.0
# Alerts whose content a process keeps in memory; a chunk usually has one.
CONTENT_CACHE_MAX = 256
RECORD_TRIES = 3
# What a recipient the channel returned nothing for counts as (made once, not per row).
NO_RESULT = SendResult.deferred("the channel gave no result")
# A fifth of each claim (20 of the default 100) goes to the newest due rows: at a few hundred
# messages a second per process, a ward alert of a few thousand arrives within seconds while a
# London-wide one drains, and the big one keeps four fifths of the pace.
NEWEST_SHARE_DIVISOR = 5
# How a refusal held for confirmation is recorded (``last_error``), so that the next attempt
# knows it was refused before.
HELD_REFUSAL = "refused, to be confirmed"
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
    # Workers per channel.
    tasks: int = 1
    lease_s: float = 10.0
    lease_renew_interval_s: float = 3.0
    # Longest a chunk waits for its provider's shared rate limit (the send budget).
    rate_wait_s: float = 30.0
    # Recipients per slice of a chunk's group, whose acceptances are recorded as it ends.
    record_slice: int = 10
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
            lease_s=settings.lease_s,
            lease_renew_interval_s=settings.lease_renew_interval_s,
            rate_wait_s=settings.send_budget_s,
            record_slice=settings.record_slice,
            idle_poll_max_s=settings.idle_poll_max_s,
        )


class AcceptanceRecorder:
    """Records a chunk's accepted deliveries as ``sent`` while the rest of it is still being
    sent: one statement at a time, each carrying every acceptance since the previous one. A
    process that dies then resends only what was accepted and not yet written (the messages on
    the wire and the slices under way), not the whole chunk. The chunk's own record still
    writes every outcome at its end; for rows already ``sent`` it changes nothing."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[DeliveryResult] = []
        self._writing: asyncio.Task[None] | None = None

    def add(self, results: Sequence[DeliveryResult]) -> None:
        if not results:
            return
        self._waiting.extend(results)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_waiting())

    async def finish(self) -> None:
        if self._writing is not None:
            await self._writing

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with session_scope(self._sessions) as session:
                    await DeliveryRepository(session).record_results(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The chunk's record at its end writes them: only the window is wider.
                log.warning("dispatch.delivery.early_record_failed", exc_info=True)


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


def observe_publish_to_send(
    content: AlertContent, channel: ChannelKind, results: Iterable[SendResult], now: datetime
) -> None:
    """One observation per accepted message of a group (one alert, one channel), all at the
    group's recording time."""
    accepted = sum(1 for result in results if result.outcome is Outcome.ACCEPTED)
    if not accepted:
        return
    severity = content.severity if content.severity in SEVERITIES else "Unknown"
    latency_s = max(0.0, (now - content.sent_at).total_seconds())
    histogram = PUBLISH_TO_SEND.labels(channel.value, severity)
    for _ in range(accepted):
        histogram.observe(latency_s)


def _short_error(text: str) -> str:
    return text[:LAST_ERROR_MAX_LENGTH]


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        channels: Mapping[ChannelKind, Channel],
        settings: WorkerSettings,
        tracer: Tracer | None = None,
        rate_limits: Mapping[ChannelKind, SharedTokenBucket] | None = None,
    ) -> None:
        self._sessions = sessions
        self._channels = channels
        # Deployment-wide provider limits (services.dispatch.ratelimits), where configured.
        self._rate_limits = rate_limits or {}
        # One per provider, shared by the process's worker tasks.
        self._circuits = {kind: ProviderCircuit(channel) for kind, channel in channels.items()}
        self._settings = settings
        self._leases = LeaseKeeper(
            sessions=sessions,
            lease=Lease.for_this_process(settings.lease_s),
            renew_every_s=settings.lease_renew_interval_s,
        )
        self._contents: dict[uuid.UUID, AlertContent] = {}
        self._tracer = tracer or NoOpTracer()
        # The trace each alert's sends join, loaded with its content (only when tracing).
        self._traces: dict[uuid.UUID, dict[str, str]] = {}
        # Each channel's workers back off on their own: a channel with nothing due must not
        # slow the claims of one with a backlog (nor a busy one keep an idle one polling).
        self._pauses = {
            kind: PollPause(
                interval_s=settings.poll_interval_s, idle_max_s=settings.idle_poll_max_s
            )
            for kind in channels
        }
        # A share of every claim from the newest, least urgent end of the queue, so that a small
        # alert published while a big one drains is not queued behind all of it.
        self._newest_share = settings.claim_size // NEWEST_SHARE_DIVISOR

    @property
    def lease(self) -> Lease:
        """The process's lease: its claims, the digest job's included, are renewed under it."""
        return self._leases.lease

    def wake(self) -> None:
        """Look for deliveries now rather than at the next poll (after a batch committed), on
        every channel: the notification does not say which channels' rows became due."""
        for pause in self._pauses.values():
            pause.wake()

    # --- one chunk ---------------------------------------------------------------------------

    async def run_once(self, channel: ChannelKind | None = None) -> int:
        """Claim, send and record one chunk of ``channel``'s deliveries (of any channel's when
        None); return how many deliveries were claimed."""
        async with session_scope(self._sessions) as session:
            claimed = await DeliveryRepository(session).claim(
                limit=self._settings.claim_size,
                lease=self.lease,
                newest_share=self._newest_share,
                channel=channel,
            )
            if not claimed:
                return 0
            contents = await self._load_contents(session, {row.alert_id for row in claimed})
            member_ids = list({row.member_id for row in claimed})
            endpoints = await MemberEndpointRepository(session).usable_for(member_ids)
            languages = await PreferencesRepository(session).languages_of(member_ids)
        # Each row goes to its own endpoint: one of the member's devices on web push and FCM.
        address_of = {e.id: e.address for e in endpoints}

        # One send per alert, channel and language the recipients read it in.
        groups: dict[tuple[uuid.UUID, ChannelKind, str], list[Recipient]] = defaultdict(list)
        results: dict[uuid.UUID, DeliveryResult] = {}
        for row in claimed:
            address = address_of.get(row.endpoint_id) if row.endpoint_id else None
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

        by_id = {row.delivery_id: row for row in claimed}
        acceptances = AcceptanceRecorder(self._sessions)
        sent = await asyncio.gather(
            *(
                self._send(
                    contents[alert_id],
                    channel,
                    language,
                    recipients,
                    on_accepted=lambda accepted: acceptances.add(
                        [self._as_recorded(by_id[i], r, utcnow()) for i, r in accepted.items()]
                    ),
                )
                for (alert_id, channel, language), recipients in groups.items()
            )
        )
        await acceptances.finish()
        invalid: list[tuple[uuid.UUID, ChannelKind, str]] = []
        now = utcnow()
        for outcome in sent:
            for delivery_id, result in outcome.items():
                if result is OVER_RATE:
                    results[delivery_id] = DeliveryResult(
                        delivery_id,
                        by_id[delivery_id].attempts,
                        DeliveryStatus.CREATED,
                        last_error="not attempted: over the provider's rate limit",
                        next_attempt_at=now + timedelta(seconds=OVER_RATE_RETRY_S),
                        attempt_given_back=True,
                    )
        for ((alert_id, channel, _language), recipients), outcome in zip(
            groups.items(), sent, strict=True
        ):
            observe_publish_to_send(contents[alert_id], channel, outcome.values(), now)
            for recipient in recipients:
                result = outcome.get(recipient.delivery_id, NO_RESULT)
                if result is OVER_RATE:
                    continue
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

    async def _send(
        self,
        content: AlertContent,
        channel: ChannelKind,
        language: str,
        recipients: Sequence[Recipient],
        *,
        on_accepted: Callable[[Mapping[uuid.UUID, SendResult]], None],
    ) -> Mapping[uuid.UUID, SendResult]:
        """One send of one alert to a group of recipients: one span in the alert's trace for
        the whole group (the provider calls inside it), never a span per recipient."""
        trace = self._traces.get(content.alert_id)
        with batch_span(
            self._tracer,
            f"dispatch send {channel.value}",
            [trace],
            parent=trace,
            attributes={
                "tawny.alert_id": str(content.alert_id),
                "tawny.channel": channel.value,
                "tawny.language": language,
                "tawny.recipients": len(recipients),
            },
        ):
            return await self._send_within_rate(
                channel, content.in_language(language), recipients, on_accepted=on_accepted
            )

    async def _send_within_rate(
        self,
        channel: ChannelKind,
        content: AlertContent,
        recipients: Sequence[Recipient],
        *,
        on_accepted: Callable[[Mapping[uuid.UUID, SendResult]], None],
    ) -> Mapping[uuid.UUID, SendResult]:
        """Send through the provider's circuit the recipients the deployment-wide rate limit
        grants tokens for within the send budget; the others are ``OVER_RATE``. The group goes
        out in slices of ``record_slice`` recipients, all under way at once (the channel
        bounds its concurrency), and each slice's acceptances are handed to ``on_accepted``
        as soon as it ends, so that they are recorded while the rest is still being sent."""
        circuit = self._circuits[channel]
        limit = self._rate_limits.get(channel)
        granted = len(recipients)
        if limit is not None and not circuit.is_open:
            granted = await limit.take(len(recipients), within_s=self._settings.rate_wait_s)
        size = self._settings.record_slice

        async def send_slice(part: Sequence[Recipient]) -> Mapping[uuid.UUID, SendResult]:
            outcome = await circuit.send_alert(content, part)
            on_accepted(
                {i: result for i, result in outcome.items() if result.outcome is Outcome.ACCEPTED}
            )
            return outcome

        slices = await asyncio.gather(
            *(send_slice(recipients[i : min(i + size, granted)]) for i in range(0, granted, size))
        )
        results = {i: result for outcome in slices for i, result in outcome.items()}
        results.update((recipient.delivery_id, OVER_RATE) for recipient in recipients[granted:])
        return results

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
        if result.outcome is Outcome.REJECTED and self._refusal_is_final(row, result):
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
        held = result.outcome is Outcome.REJECTED
        kind = HELD_REFUSAL if held else "temporary failure"
        return DeliveryResult(
            row.delivery_id,
            row.attempts,
            DeliveryStatus.CREATED,
            last_error=_short_error(f"{kind} (attempt {row.attempts}): {result.detail}"),
            next_attempt_at=now + timedelta(seconds=delay),
        )

    @staticmethod
    def _refusal_is_final(row: ClaimedDelivery, result: SendResult) -> bool:
        """A refusal that condemns the address is final at once; any other only when this
        row's previous attempt was refused too and the provider is accepting others now."""
        if result.address_invalid:
            return True
        held_before = (row.last_error or "").startswith(HELD_REFUSAL)
        return held_before and result.provider_accepting

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
        # The messages are out: losing these writes means sending them again once the
        # lease lapses. A brief database hiccup is worth a couple of quick tries.
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
        """The chunk's alerts, from the cache or the database. The answer is built apart from
        the cache, which a full cache or another worker task may clear meanwhile: read back from
        it, an alert cached a moment ago would be missing from the chunk, and its rows failed
        as unknown (the whole year's replay lost 168 recipients that way)."""
        found = {a: self._contents[a] for a in alert_ids if a in self._contents}
        missing = [alert_id for alert_id in alert_ids if alert_id not in found]
        if missing:
            repository = DeliveryRepository(session)
            loaded = {
                alert_id: AlertContent.model_validate(content)
                for alert_id, content in (await repository.alert_contents(missing)).items()
            }
            if len(self._contents) + len(loaded) > CONTENT_CACHE_MAX:
                self._contents.clear()
            self._contents.update(loaded)
            found.update(loaded)
            if not isinstance(self._tracer, NoOpTracer):
                traces = await repository.alert_trace_contexts(missing)
                if len(self._traces) + len(traces) > CONTENT_CACHE_MAX:
                    self._traces.clear()
                self._traces.update(traces)
        return found

    # --- the sweeper -------------------------------------------------------------------------

    async def sweep(self) -> SweepReport:
        async with session_scope(self._sessions) as session:
            deliveries = DeliveryRepository(session)
            resumed, given_up = await deliveries.resume_stuck(
                claimed_before=utcnow() - timedelta(seconds=self._settings.sending_timeout_s),
                max_attempts=self._settings.max_attempts,
            )
            # Released rows are announced with the others, and follow their members' quiet
            # hours and digest.
            released = await DeliveryService(session).release_recent_pending(
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
        # The leases outlive the workers: on shutdown each finishes its chunk in hand, whose
        # rows must not lapse meanwhile and be sent again by another process.
        renewing = asyncio.create_task(self._leases.run(), name="delivery-leases")
        try:
            async with asyncio.TaskGroup() as group:
                for channel in self._channels:
                    for index in range(self._settings.tasks):
                        group.create_task(
                            self._work(channel), name=f"delivery-worker-{channel.value}-{index}"
                        )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _work(self, channel: ChannelKind) -> None:
        pause = self._pauses[channel]
        while True:
            # Claiming and recording are no trace of their own (an idle worker polls); each
            # send joins its alert's trace with a span of its own (``_send``).
            with suppress_instrumentation():
                chunk = asyncio.ensure_future(self.run_once(channel))
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
            if claimed:
                # Claim again at once, even after a claim short of ``claim_size``: with several
                # workers taking the same queue, a claim comes up short while thousands of
                # rows are due (measured: a pause after each short claim cut one process's
                # email rate from 1,400 to 450 a second). A drained queue costs one empty claim.
                pause.reset()
            else:
                # Nothing at all: back off, so that an idle process costs next to nothing; rows
                # recorded anywhere wake it through LISTEN/NOTIFY (deliveries/wakeup.py), and
                # the backed-off poll only catches what nobody announces (retries coming due).
                await pause.after(claimed)
