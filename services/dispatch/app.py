"""The dispatch service: learns where members can be reached, emails verification links and
account notices, keeps members' alert preferences, and sends each published alert to every
member of its recipient batches, once per channel they want it on (email, web push, mobile push,
SMS).

    uvicorn services.dispatch.app:create_app --factory

It consumes identity's member events (``dispatch.members``; address letters in
``dispatch.letters``) and geo's recipient batches (``dispatch.deliveries``), which it records as
deliveries. Its delivery workers and sweeper (:mod:`services.dispatch.deliveries.worker`) send
them, the digest job (:mod:`services.dispatch.digests.service`) sends daily digests, the purge
(:mod:`services.dispatch.retention.service`) forgets old alerts, and its status reporter
(:mod:`services.dispatch.status.reporter`) publishes each alert's totals
(``delivery.stats_reported``, through the outbox), in every process alike. With
``DISPATCH_RUN_CONSUMERS=false`` a process only sends and reports.

Mobile push runs when FCM is configured (``DISPATCH_FCM_PROJECT_ID`` and a service-account key),
SMS and letters when a Notify API key is (``DISPATCH_NOTIFY_API_KEY``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.dispatch.account_emails.service import AccountEmailSender, AccountEmailSettings
from services.dispatch.channels.base import Channel
from services.dispatch.channels.email import EmailChannel
from services.dispatch.channels.fcm import FcmChannel
from services.dispatch.channels.notify import NotifyClient, SmsChannel
from services.dispatch.channels.webpush import WebPushChannel
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.consumers import recipient_batches_consumer
from services.dispatch.deliveries.endpoints import router as deliveries_router
from services.dispatch.deliveries.wakeup import listen_for_due_deliveries
from services.dispatch.deliveries.worker import DeliveryWorker, WorkerSettings
from services.dispatch.digests.service import DigestSender, DigestSettings
from services.dispatch.inbox.endpoints import router as inbox_router
from services.dispatch.letters.consumers import letter_requests_consumer
from services.dispatch.members.consumers import member_events_consumer
from services.dispatch.members.endpoints import exports_router
from services.dispatch.members.endpoints import router as endpoints_router
from services.dispatch.models import ChannelKind, OutboxMessage, ProcessedEvent
from services.dispatch.preferences.endpoints import router as preferences_router
from services.dispatch.ratelimits.service import shared_rate_limits
from services.dispatch.receipts.endpoints import router as receipts_router
from services.dispatch.registrations.endpoints import router as registrations_router
from services.dispatch.retention.service import purge_old_alerts, purge_old_export_parts
from services.dispatch.status.backlog import BacklogGauges
from services.dispatch.status.reporter import StatsReporter
from services.dispatch.webpush.endpoints import router as webpush_router
from shared.app import create_service_app
from shared.db import build_engine, build_sessionmaker
from shared.runtime import ConsumerSpec, ServiceRuntime
from shared.web import set_readiness_checks


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    # Built here, not in the lifespan: it opens nothing until the first send.
    email = EmailChannel.from_settings(settings)
    webpush = WebPushChannel.from_settings(settings)
    channels: dict[ChannelKind, Channel] = {ChannelKind.EMAIL: email, ChannelKind.WEBPUSH: webpush}
    fcm = FcmChannel.from_settings(settings)
    if fcm is not None:
        channels[ChannelKind.FCM] = fcm
    notify = NotifyClient.from_settings(settings)
    if notify is not None:
        channels[ChannelKind.SMS] = SmsChannel(
            notify, max_segments=settings.sms_max_segments, send_budget_s=settings.send_budget_s
        )
    worker_settings = WorkerSettings.from_settings(settings)
    # The worker needs the runtime's sessions, which exist only once the lifespan has started;
    # the consumers need its wake-up before that, so they reach it through this holder.
    workers: list[DeliveryWorker] = []

    def wake_workers() -> None:
        for worker in workers:
            worker.wake()

    account_email_senders: list[AccountEmailSender] = []

    def wake_account_emails() -> None:
        for sender in account_email_senders:
            sender.wake()

    consumers: tuple[ConsumerSpec, ...] = ()
    if settings.run_consumers:
        consumers = (
            member_events_consumer(
                email, wake_workers=wake_workers, wake_account_emails=wake_account_emails
            ),
            recipient_batches_consumer(
                tuple(channels),
                pending_max_age=timedelta(seconds=settings.pending_max_age_s),
                wake_workers=wake_workers,
            ),
        )
        if notify is not None:
            consumers += (letter_requests_consumer(notify),)

    async def start_workers(app: FastAPI, runtime: ServiceRuntime) -> None:
        rate_limits = shared_rate_limits(runtime.sessions, settings)
        # The workers' own pool, without a ping per checkout (two checkouts per chunk): a
        # connection that died fails the claim or the record, and both are tried again. One
        # connection per worker task (worker_tasks per channel), one for the lease keeper, one
        # for recording a slice while the next is sent.
        worker_engine = build_engine(
            settings.database_url,
            application_name="dispatch-worker",
            pool_size=settings.worker_tasks * len(channels) + 2,
            pool_timeout_s=settings.database_pool_timeout_s,
            pre_ping=False,
        )
        worker = DeliveryWorker(
            sessions=build_sessionmaker(worker_engine),
            channels=channels,
            settings=worker_settings,
            tracer=runtime.tracer,
            rate_limits=rate_limits,
        )
        workers.append(worker)
        app.state.delivery_worker = worker
        # Appended to the runtime's tasks, so they are cancelled with the rest on shutdown.
        sending = asyncio.create_task(worker.run_workers(), name="delivery-workers")
        runtime.tasks.append(sending)
        runtime.run_every(settings.sweep_interval_s, worker.sweep, name="delivery-sweeper")
        # Rows recorded by any process wake this one's workers at once; they need not poll.
        runtime.tasks.append(
            asyncio.create_task(
                listen_for_due_deliveries(runtime.engine, worker.wake), name="delivery-wakeup"
            )
        )
        digests = DigestSender(
            sessions=runtime.sessions,
            email=email,
            settings=DigestSettings(
                claim_size=settings.digest_claim_size,
                max_attempts=settings.max_attempts,
                retry_base_delay_s=settings.retry_base_delay_s,
                retry_max_delay_s=settings.retry_max_delay_s,
                rate_wait_s=settings.send_budget_s,
            ),
            lease=worker.lease,
            rate_limit=rate_limits.get(ChannelKind.EMAIL),
        )
        app.state.digest_sender = digests
        account_emails = AccountEmailSender(
            sessions=runtime.sessions,
            email=email,
            lease=worker.lease,
            settings=AccountEmailSettings(
                claim_size=settings.claim_size,
                max_attempts=settings.max_attempts,
                retry_base_delay_s=settings.retry_base_delay_s,
                retry_max_delay_s=settings.retry_max_delay_s,
            ),
        )
        account_email_senders.append(account_emails)
        app.state.account_email_sender = account_emails
        runtime.tasks.append(asyncio.create_task(account_emails.run(), name="account-emails"))
        runtime.run_every(settings.digest_interval_s, digests.run_until_done, name="digests")
        retention = timedelta(days=settings.alert_retention_days)

        async def purge() -> None:
            await purge_old_alerts(runtime.sessions, retention=retention)
            await purge_old_export_parts(runtime.sessions)

        runtime.run_every(settings.purge_interval_s, purge, name="purge")
        backlog = BacklogGauges(runtime.sessions)
        runtime.run_every(settings.backlog_report_interval_s, backlog.report, name="backlog-gauges")
        reporter = StatsReporter(
            sessions=runtime.sessions,
            interval_s=settings.stats_interval_s,
            after_commit=runtime.relay.wake if runtime.relay is not None else None,
        )
        app.state.stats_reporter = reporter
        runtime.run_every(settings.stats_interval_s, reporter.report_once, name="delivery-stats")
        runtime.tasks.append(
            asyncio.create_task(close_after_sending(sending, worker_engine), name="channel-closer")
        )
        set_readiness_checks(app, runtime.readiness_checks())

    async def close_after_sending(sending: asyncio.Task[None], worker_engine: AsyncEngine) -> None:
        # Cancelled with the runtime's other tasks at shutdown; the workers finish the chunks
        # in hand first, so their connections are closed only once those are recorded.
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.wait({sending})
            await email.close()
            await webpush.close()
            if fcm is not None:
                await fcm.close()
            if notify is not None:
                await notify.close()
            await worker_engine.dispose()

    app = create_service_app(
        name="dispatch",
        title="Tawny dispatch",
        description="Sends published alerts to the members who asked for them, once per alert, "
        "member and channel (email, web push, mobile push, SMS), posts address-verification "
        "letters, and reports how far each alert has got.",
        settings=settings,
        routers=[
            deliveries_router,
            endpoints_router,
            preferences_router,
            registrations_router,
            receipts_router,
            webpush_router,
            inbox_router,
            exports_router,
        ],
        outbox_model=OutboxMessage,
        processed_model=ProcessedEvent,
        consumers=consumers,
        on_startup=start_workers,
    )
    # The registration endpoints send confirmation codes through it.
    app.state.notify_client = notify
    app.state.webpush_channel = webpush
    return app
