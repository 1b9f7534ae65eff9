"""Publishes scheduled alerts when their time comes and expires alerts past their expiry.
Every replica runs it every ``ALERTS_SCHEDULER_INTERVAL_S`` (``shared.periodic.run_every``, in
``app.py``); ``SKIP LOCKED`` lets them share the work without doing any twice."""

from __future__ import annotations

from services.alerts.authoring.service import AlertService
from services.alerts.config import AlertsSettings
from shared.db import session_scope, utcnow
from shared.logs import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)


async def run_once(runtime: ServiceRuntime, settings: AlertsSettings) -> tuple[int, int]:
    """One tick: returns (alerts published, alerts expired)."""
    async with session_scope(runtime.sessions) as session:
        service = AlertService(session, settings=settings)
        now = utcnow()
        published = await service.publish_due(now)
        expired = await service.expire_due(now)
    if published and runtime.relay is not None:
        runtime.relay.wake()
    if published or expired:
        log.info("alerts.scheduler.ran", published=published, expired=expired)
    return published, expired
