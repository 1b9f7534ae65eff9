"""Sends partners' webhook callbacks: claims due deliveries (``SKIP LOCKED``, leased, so
replicas share the work and a replica that dies mid-send leaves its rows to be retried),
POSTs each signed (``signing``) with aiohttp, and records every outcome. Every replica runs
it. A callback is sent at least once; its ``Tawny-Webhook-Id`` lets a receiver drop a repeat
(the one left after a crash between sending and recording)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp

from services.alerts.config import AlertsSettings
from services.alerts.models import Webhook, WebhookDelivery
from services.alerts.webhooks import signing
from services.alerts.webhooks.service import Attempt, WebhookService
from shared.db import session_scope, utcnow
from shared.logs import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

USER_AGENT = "Tawny-Webhooks/1"


def callback_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


async def send(http: aiohttp.ClientSession, delivery: WebhookDelivery, webhook: Webhook) -> Attempt:
    body = callback_body(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.ID_HEADER: str(delivery.id),
        signing.EVENT_HEADER: delivery.event.value,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(webhook.secret, timestamp, body),
    }
    try:
        async with http.post(webhook.url, data=body, headers=headers, allow_redirects=False) as r:
            await r.read()
            return Attempt(
                delivered=200 <= r.status < 300,
                status_code=r.status,
                error=None if r.status < 300 else f"answered {r.status}",
            )
    except (aiohttp.ClientError, TimeoutError) as error:
        return Attempt(delivered=False, status_code=None, error=repr(error))


async def run_once(
    runtime: ServiceRuntime, settings: AlertsSettings, http: aiohttp.ClientSession
) -> int:
    """One round: claim, send concurrently, record. Returns how many were attempted."""
    async with session_scope(runtime.sessions) as session:
        claimed = await WebhookService(session, settings=settings).claim_due(utcnow())
        due = [(delivery, webhook) for delivery, webhook in claimed]
    if not due:
        return 0
    attempts = await asyncio.gather(*(send(http, d, w) for d, w in due))
    outcomes: dict[uuid.UUID, Attempt] = {
        delivery.id: attempt for (delivery, _), attempt in zip(due, attempts, strict=True)
    }
    async with session_scope(runtime.sessions) as session:
        await WebhookService(session, settings=settings).record_outcomes(outcomes, utcnow())
    log.info(
        "alerts.webhooks.sent",
        attempted=len(due),
        delivered=sum(1 for a in attempts if a.delivered),
    )
    return len(due)


async def run(runtime: ServiceRuntime, settings: AlertsSettings) -> None:
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while True:
            try:
                attempted = await run_once(runtime, settings, http)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("alerts.webhooks.round_failed", error=repr(error))
                attempted = 0
            # A full batch: more may be due at once.
            if attempted < settings.webhook_batch_size:
                await asyncio.sleep(settings.webhook_poll_interval_s)
