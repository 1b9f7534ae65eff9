"""Recording one recipient batch, releasing deliveries that were waiting for an endpoint, and
counting what became of an alert's deliveries.

Flushes, never commits. A batch is recorded inside the ``dispatch.deliveries`` consumer's one
short transaction, which also records the event as processed; nothing is sent in it:

1. the alert's content is stored once (``dispatch_alerts``), so any worker can reload it by id;
2. every usable endpoint of the batch's members, on every channel, is loaded in one query;
3. :func:`channels_for` picks each member's channels among those they have an endpoint on and
   this dispatcher sends (email, web push, mobile push, SMS);
4. the members' preferences are loaded in one query and applied
   (:func:`services.dispatch.preferences.rules.plan_deliveries`): channels a member does not
   want for the alert's severity or category are not recorded, rows in their quiet hours are
   due when the hours end, and low-severity email for a member with a daily digest is ``held``
   for it;
5. ``INSERT ... ON CONFLICT (alert_id, member_id, channel, endpoint_id) DO NOTHING`` one row
   per (member, channel) planned and live endpoint on it (:func:`per_device`: each browser and
   app installation of the member's gets its own row, so each is sent once): ``created``; and
   ``pending`` (on email, the channel every member verifies first, no endpoint yet) for a
   member with no usable endpoint at all yet. A batch delivered again, even under a new event
   id, therefore records nothing twice.

Once that commits the consumer commits the offset, and the delivery workers
(:mod:`services.dispatch.deliveries.worker`) claim and send the ``created`` rows.

A ``pending`` row is released (made ``created``) when ``member.email_verified`` arrives for its
member, or by the sweeper if that verification committed while the batch was being recorded;
if the alert passes its ``deliver_until`` first, the sweeper marks it ``failed``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.deliveries.repository import DeliveryRepository
from services.dispatch.deliveries.schemas import DeliverySummary
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, DeliveryStatus, Priority, SuspendedMember
from services.dispatch.preferences.rules import DeliveryTarget, plan_deliveries
from services.dispatch.preferences.service import PreferencesService
from shared.db import utcnow
from shared.events import AlertContent, RecipientBatch
from shared.logs import get_logger
from shared.members import SuspensionRepository
from shared.tracing import current_trace_carrier

log = get_logger(__name__)

RECIPIENTS_WITHOUT_ENDPOINT = Counter(
    "tawny_dispatch_recipients_without_endpoint_total",
    "Members in recipient batches who had no usable endpoint yet: kept pending",
)

# Email is the channel every member has once verified: a pending delivery waits for it.
PENDING_CHANNEL = ChannelKind.EMAIL
DEFAULT_PENDING_MAX_AGE = timedelta(days=1)
# Enough ids in a log line to look a few up, without a 500-id line.
LOGGED_IDS_MAX = 20


def channels_for(
    reachable_on: Collection[ChannelKind], offered: Collection[ChannelKind]
) -> list[ChannelKind]:
    """The channels to send one member the alert on: every channel they have a usable endpoint
    on that this dispatcher sends. An empty list with endpoints is not "pending": the member
    can be reached, just not on a channel sent here."""
    return [channel for channel in offered if channel in reachable_on]


def per_device(
    planned: Iterable[DeliveryTarget],
    devices: Mapping[tuple[uuid.UUID, ChannelKind], Sequence[uuid.UUID]],
) -> list[DeliveryTarget]:
    """A row per live endpoint of each planned (member, channel): one per browser or app
    installation, one for email and SMS. A pending row has no endpoint yet: it gets one when
    it is released."""
    return [
        target._replace(endpoint_id=endpoint_id)
        for target in planned
        for endpoint_id in (
            [None]
            if target.status is DeliveryStatus.PENDING
            else devices.get((target.member_id, target.channel), ())
        )
    ]


def priority_of(content: AlertContent) -> int:
    if content.urgency == "Immediate" or content.severity == "Extreme":
        return Priority.URGENT
    return Priority.NORMAL


def deliver_until(content: AlertContent, pending_max_age: timedelta) -> datetime:
    return content.expires or content.sent_at + pending_max_age


@dataclass(frozen=True)
class BatchReport:
    members: int
    created: int
    pending: int
    already_recorded: int
    # Email kept for members' daily digests.
    held: int = 0


class DeliveryService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        channels: Collection[ChannelKind] = (ChannelKind.EMAIL,),
        pending_max_age: timedelta = DEFAULT_PENDING_MAX_AGE,
    ) -> None:
        self._endpoints = MemberEndpointRepository(session)
        self._suspensions = SuspensionRepository(session, SuspendedMember)
        self._deliveries = DeliveryRepository(session)
        self._preferences = PreferencesService(session)
        self._channels = channels
        self._pending_max_age = pending_max_age

    async def record_batch(self, batch: RecipientBatch) -> BatchReport:
        content = batch.content
        member_ids = list(dict.fromkeys(batch.member_ids))
        # A suspended member receives nothing (not even a pending row to release later).
        suspended = await self._suspensions.suspended_among(member_ids)
        if suspended:
            member_ids = [member_id for member_id in member_ids if member_id not in suspended]
        priority = priority_of(content)
        await self._deliveries.store_alert(
            alert_id=content.alert_id,
            content=content.model_dump(mode="json"),
            priority=priority,
            deliver_until=deliver_until(content, self._pending_max_age),
            trace_context=current_trace_carrier(),
        )
        reachable_on: dict[uuid.UUID, set[ChannelKind]] = defaultdict(set)
        devices: dict[tuple[uuid.UUID, ChannelKind], list[uuid.UUID]] = defaultdict(list)
        for endpoint in await self._endpoints.usable_for(member_ids):
            reachable_on[endpoint.member_id].add(endpoint.channel)
            devices[(endpoint.member_id, endpoint.channel)].append(endpoint.id)
        created = [
            (member_id, channel, DeliveryStatus.CREATED)
            for member_id in member_ids
            if member_id in reachable_on
            for channel in channels_for(reachable_on[member_id], self._channels)
        ]
        unreachable = [member_id for member_id in member_ids if member_id not in reachable_on]
        targets = created + [
            (member_id, PENDING_CHANNEL, DeliveryStatus.PENDING) for member_id in unreachable
        ]
        planned = per_device(await self._as_members_want(targets, member_ids, content), devices)
        new = await self._deliveries.insert_new(
            alert_id=content.alert_id, priority=priority, targets=planned
        )
        if new:
            await self._deliveries.announce_due()
        if unreachable:
            RECIPIENTS_WITHOUT_ENDPOINT.inc(len(unreachable))
            log.info(
                "dispatch.batch.members_pending",
                alert_id=str(content.alert_id),
                batch_number=batch.batch_number,
                count=len(unreachable),
                member_ids=[str(member_id) for member_id in unreachable[:LOGGED_IDS_MAX]],
            )
        # Rows, not members: a member's several devices count one each.
        statuses = [target.status for target in planned]
        report = BatchReport(
            members=len(member_ids),
            created=statuses.count(DeliveryStatus.CREATED),
            pending=statuses.count(DeliveryStatus.PENDING),
            already_recorded=len(planned) - new,
            held=statuses.count(DeliveryStatus.HELD),
        )
        log.info(
            "dispatch.batch.recorded",
            alert_id=str(content.alert_id),
            batch_number=batch.batch_number,
            members=report.members,
            created=report.created,
            pending=report.pending,
            already_recorded=report.already_recorded,
            held=report.held,
        )
        return report

    async def _as_members_want(
        self,
        targets: list[tuple[uuid.UUID, ChannelKind, DeliveryStatus]],
        member_ids: list[uuid.UUID],
        content: AlertContent,
    ) -> list[DeliveryTarget]:
        """The batch's rows as its members' preferences make them (one query for the batch):
        unwanted channels dropped, quiet hours and digests setting when each is due."""
        preferences = await self._preferences.of_members(member_ids)
        return plan_deliveries(targets, preferences, content, utcnow())

    async def release_pending_for(self, member_id: uuid.UUID) -> int:
        """The member can now be reached: their pending deliveries become due."""
        released = len(await self._deliveries.release_pending(member_id=member_id))
        if released:
            await self._deliveries.announce_due()
            log.info("dispatch.pending.released", member_id=str(member_id), count=released)
            # Released, they respect quiet hours and the digest like any other delivery.
            await self._preferences.replan_unsent(member_id)
        return released

    async def release_recent_pending(self, *, recorded_after: datetime) -> int:
        """The sweeper's release (a verification that committed while a batch that missed it
        was being recorded): like :meth:`release_pending_for`, each member's released rows
        then follow their quiet hours and digest."""
        members = await self._deliveries.release_pending(recorded_after=recorded_after)
        if members:
            await self._deliveries.announce_due()
            for member_id in sorted(set(members)):
                await self._preferences.replan_unsent(member_id)
        return len(members)

    async def summarise(self, alert_id: uuid.UUID) -> DeliverySummary:
        channels: dict[ChannelKind, dict[DeliveryStatus, int]] = {}
        for channel, status, count in await self._deliveries.count_by_channel_and_status(alert_id):
            counts = channels.setdefault(channel, dict.fromkeys(DeliveryStatus, 0))
            counts[status] = count
        total = sum(sum(counts.values()) for counts in channels.values())
        return DeliverySummary(alert_id=alert_id, total=total, channels=channels)
