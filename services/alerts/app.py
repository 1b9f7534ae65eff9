"""The alerts service: staff write CAP 1.2 alerts, approve and publish them, and follow them up
with updates, cancellations and outcomes; ``AlertPublished`` leaves through the outbox for geo
to resolve each message's audience. Other systems exchange CAP XML; the public reads feeds.

    uvicorn services.alerts.app:create_app --factory
"""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import FastAPI

from services.alerts import scheduler
from services.alerts.authoring.endpoints import router as authoring_router
from services.alerts.cap.endpoints import router as cap_router
from services.alerts.config import AlertsSettings
from services.alerts.dashboard.consumers import dashboard_watchers_consumer
from services.alerts.dashboard.endpoints import router as dashboard_router
from services.alerts.delivery.consumers import delivery_stats_consumer
from services.alerts.feedback.endpoints import router as feedback_router
from services.alerts.feeds.endpoints import router as feeds_router
from services.alerts.geography import geography_for
from services.alerts.images.endpoints import router as images_router
from services.alerts.members.consumers import members_consumer
from services.alerts.members.endpoints import router as members_router
from services.alerts.models import IdempotencyKey, OutboxMessage, ProcessedEvent
from services.alerts.retention.service import purge_expired_feedback
from services.alerts.targeting.consumers import targeting_consumer
from services.alerts.targeting.endpoints import router as targeting_router
from services.alerts.webhooks import worker as webhook_worker
from services.alerts.webhooks.endpoints import router as webhooks_router
from shared.app import create_service_app
from shared.logs import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)


def create_app(settings: AlertsSettings | None = None) -> FastAPI:
    settings = settings or AlertsSettings()

    async def on_startup(app: FastAPI, runtime: ServiceRuntime) -> None:
        # Read the ward files now, so a missing or broken one stops the service at startup.
        geography_for(settings)
        # In runtime.tasks, so it is cancelled at shutdown and shows in readiness.
        runtime.run_every(
            settings.scheduler_interval_s,
            partial(scheduler.run_once, runtime, settings),
            name="alerts-scheduler",
        )
        runtime.tasks.append(
            asyncio.create_task(webhook_worker.run(runtime, settings), name="alerts-webhooks")
        )
        if settings.cap_schema() is None:
            log.warning("alerts.cap.schema_missing", hint="set ALERTS_CAP_SCHEMA_PATH")

        async def purge() -> None:
            await purge_expired_feedback(runtime.sessions, settings)

        runtime.run_every(settings.retention_interval_s, purge, name="alerts-retention")

    return create_service_app(
        name="alerts",
        title="Tawny alerts",
        description="Staff write CAP 1.2 alerts, approve and publish them to the areas they "
        "concern, and follow them up; other systems exchange CAP; the public reads feeds.",
        settings=settings,
        # The CAP router first: /alerts/cap must not be taken for an alert id.
        routers=[
            cap_router,
            authoring_router,
            targeting_router,
            images_router,
            feedback_router,
            feeds_router,
            webhooks_router,
            members_router,
            dashboard_router,
        ],
        outbox_model=OutboxMessage,
        processed_model=ProcessedEvent,
        consumers=(
            delivery_stats_consumer(settings),
            targeting_consumer(),
            dashboard_watchers_consumer(settings),
            members_consumer(settings),
        ),
        on_startup=on_startup,
        idempotency_model=IdempotencyKey,
    )
