"""The dispatch service: learns where members can be reached, emails verification links, and
sends each published alert to every member of its recipient batches, once per channel.

    uvicorn services.dispatch.app:create_app --factory

It publishes no events; it consumes identity's member events (``dispatch.members``) and geo's
recipient batches (``dispatch.deliveries``), which it records as deliveries. Its delivery workers
and sweeper (:mod:`services.dispatch.deliveries.worker`) send them, in every process alike.
With ``DISPATCH_RUN_CONSUMERS=false`` a process only sends.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI

from services.dispatch.channels.base import Channel
from services.dispatch.channels.email import EmailChannel
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.consumers import recipient_batches_consumer
from services.dispatch.deliveries.endpoints import router as deliveries_router
from services.dispatch.deliveries.worker import DeliveryWorker, WorkerSettings
from services.dispatch.inbox.endpoints import router as inbox_router
from services.dispatch.members.consumers import member_events_consumer
from services.dispatch.members.endpoints import router as endpoints_router
from services.dispatch.models import ChannelKind, ProcessedEvent
from shared.app import create_service_app
from shared.runtime import ConsumerSpec, ServiceRuntime
from shared.web import set_readiness_checks


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    # Built here, not in the lifespan: it opens nothing until the first send.
    email = EmailChannel.from_settings(settings)
    channels: dict[ChannelKind, Channel] = {ChannelKind.EMAIL: email}
    worker_settings = WorkerSettings.from_settings(settings)
    # The worker needs the runtime's sessions, which exist only once the lifespan has started;
    # the consumers need its wake-up before that, so they reach it through this holder.
    workers: list[DeliveryWorker] = []

    def wake_workers() -> None:
        for worker in workers:
            worker.wake()

    consumers: tuple[ConsumerSpec, ...] = ()
    if settings.run_consumers:
        consumers = (
            member_events_consumer(email, wake_workers=wake_workers),
            recipient_batches_consumer(
                tuple(channels),
                pending_max_age=timedelta(seconds=settings.pending_max_age_s),
                wake_workers=wake_workers,
            ),
        )

    async def start_workers(app: FastAPI, runtime: ServiceRuntime) -> None:
        worker = DeliveryWorker(
            sessions=runtime.sessions, channels=channels, settings=worker_settings
        )
        workers.append(worker)
        app.state.delivery_worker = worker
        # Appended to the runtime's tasks, so they are cancelled with the rest on shutdown.
        runtime.tasks.append(asyncio.create_task(worker.run_workers(), name="delivery-workers"))
        runtime.tasks.append(asyncio.create_task(worker.run_sweeper(), name="delivery-sweeper"))
        set_readiness_checks(app, runtime.readiness_checks())

    return create_service_app(
        name="dispatch",
        title="Tawny dispatch",
        description="Sends published alerts to the members who asked for them, once per alert, "
        "member and channel (email today), and reports how far each alert has got.",
        settings=settings,
        routers=[deliveries_router, endpoints_router, inbox_router],
        processed_model=ProcessedEvent,
        consumers=consumers,
        on_startup=start_workers,
    )
