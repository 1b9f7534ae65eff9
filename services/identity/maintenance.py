"""Identity's periodic work: lapse coordinator rights whose police vetting has expired, and
purge accounts whose email address was never verified. Every replica runs it every
``IDENTITY_MAINTENANCE_INTERVAL_S`` (``shared.periodic.run_every``, in ``app.py``); rows are
claimed with ``FOR UPDATE SKIP LOCKED`` so replicas share the work and never do any of it
twice."""

from __future__ import annotations

from datetime import timedelta

from services.identity.config import IdentitySettings
from services.identity.coordinators.service import CoordinatorService
from services.identity.rights.service import DataRightsService
from shared.db import session_scope, utcnow
from shared.logs import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)


async def run_once(runtime: ServiceRuntime, settings: IdentitySettings) -> tuple[int, int]:
    """Work until nothing is due; returns (vettings lapsed, accounts purged)."""
    lapsed = purged = 0
    while True:
        async with session_scope(runtime.sessions) as session:
            batch = await CoordinatorService(session).lapse_expired(utcnow().date())
        lapsed += batch
        if not batch:
            break
    cutoff = utcnow() - timedelta(hours=settings.unverified_purge_after_h)
    while True:
        async with session_scope(runtime.sessions) as session:
            batch = await DataRightsService(session, settings).purge_unverified(cutoff)
        purged += batch
        if not batch:
            break
    if (lapsed or purged) and runtime.relay is not None:
        runtime.relay.wake()
    if lapsed or purged:
        log.info("identity.maintenance.ran", lapsed=lapsed, purged=purged)
    return lapsed, purged
