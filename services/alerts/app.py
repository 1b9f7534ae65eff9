"""The alerts service: officers write alerts and publish them; ``AlertPublished`` leaves through
the outbox for geo to resolve each alert's audience.

    uvicorn services.alerts.app:create_app --factory
"""

from __future__ import annotations

from fastapi import FastAPI

from services.alerts.authoring.endpoints import router as authoring_router
from services.alerts.config import AlertsSettings
from services.alerts.models import OutboxMessage
from shared.app import create_service_app


def create_app(settings: AlertsSettings | None = None) -> FastAPI:
    return create_service_app(
        name="alerts",
        title="Tawny alerts",
        description="Officers write alerts as drafts and publish them to the wards they concern.",
        settings=settings or AlertsSettings(),
        routers=[authoring_router],
        outbox_model=OutboxMessage,
    )
