"""Geo's reports on resolving a published alert (``audience.resolved``) through Kafka into the
running alerts app: a part geo could not use shows on the alert, for its author and the
console, until an officer's retry (``alert.targeting_retry_requested``) is answered by a report
without failures. Geo's side: tests/geo/targeting/test_contract.py; the whole loop:
tests/e2e/test_targeting_path.py."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import utcnow
from shared.events import (
    AlertPublished,
    AudienceResolved,
    EventEnvelope,
    TargetingRetryRequested,
    TargetPartFailure,
)
from tests.alerts.helpers import create_alert, officer_headers, outbox_envelopes, unique_ward_code
from tests.support.tokens import auth_header
from tests.support.waiting import eventually

FAILED_WARD = TargetPartFailure(
    part="target_ward_codes[1]",
    field="target_ward_codes[1]",
    reason="unknown-ward",
    detail="target_ward_codes[1]: there is no ward E05013792 in the loaded boundary set.",
)


async def report(
    producer: AIOKafkaProducer,
    alert_id: str,
    *,
    minutes: int,
    recipients: int,
    failures: list[TargetPartFailure],
) -> None:
    payload = AudienceResolved(
        alert_id=uuid.UUID(alert_id),
        event_id=uuid.uuid4(),
        resolved_at=utcnow() + timedelta(minutes=minutes),
        recipients=recipients,
        failures=failures,
    )
    envelope = EventEnvelope.wrap(payload, producer="geo")
    await producer.send_and_wait(
        payload.topic.value,
        envelope.model_dump_json().encode(),
        key=payload.partition_key().encode(),
    )


class TestFailedTargeting:
    async def test_failure_shows_retry_is_staged_and_a_clean_report_clears_it(
        self,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        ward = unique_ward_code()
        author = officer_headers()
        alert = await create_alert(client, author, target_ward_codes=[ward])
        alert_id = alert["id"]
        published = await client.post(f"/alerts/{alert_id}/publish", headers=author)
        assert published.status_code == 200, published.text
        assert published.json()["targeting"]["status"] == "waiting"

        await report(producer, alert_id, minutes=0, recipients=30, failures=[FAILED_WARD])

        async def targeting(status: str) -> dict[str, Any] | None:
            shown = (await client.get(f"/alerts/{alert_id}", headers=author)).json()
            found: dict[str, Any] = shown["targeting"]
            return found if found["status"] == status else None

        failed = await eventually(lambda: targeting("failed"))
        assert failed["recipients"] == 30
        assert failed["failures"] == [FAILED_WARD.model_dump()]
        # The console's list shows it too.
        listed = (await client.get("/alerts", headers=officer_headers())).json()
        items = listed if isinstance(listed, list) else listed["items"]
        mine = next(a for a in items if a["id"] == alert_id)
        assert mine["targeting"]["status"] == "failed"

        # A resident may not retry; an officer may, once at a time.
        resident = auth_header(roles=["resident"], member_id=uuid.uuid4())
        refused = await client.post(f"/alerts/{alert_id}/retry-targeting", headers=resident)
        assert refused.status_code == 403
        retried = await client.post(f"/alerts/{alert_id}/retry-targeting", headers=author)
        assert retried.status_code == 202, retried.text
        assert retried.json()["targeting"]["status"] == "waiting"
        again = await client.post(f"/alerts/{alert_id}/retry-targeting", headers=author)
        assert again.status_code == 409
        assert "under way" in again.json()["detail"]

        staged = [
            e for e in await outbox_envelopes(sessions, alert_id) if e["type"] != "alert.published"
        ]
        assert [e["type"] for e in staged] == [TargetingRetryRequested.event_type]
        retry = TargetingRetryRequested.model_validate(staged[0]["payload"])
        original = AlertPublished.model_validate(
            next(
                e["payload"]
                for e in await outbox_envelopes(sessions, alert_id)
                if e["type"] == "alert.published"
            )
        )
        # The same content and target as the publication: geo resolves it afresh.
        assert retry.model_dump() == original.model_dump()

        # An older report arriving late changes nothing; geo's answer to the retry clears it.
        await report(producer, alert_id, minutes=-5, recipients=1, failures=[FAILED_WARD])
        await report(producer, alert_id, minutes=5, recipients=42, failures=[])
        resolved = await eventually(lambda: targeting("resolved"))
        assert (resolved["recipients"], resolved["failures"]) == (42, [])
        nothing_left = await client.post(f"/alerts/{alert_id}/retry-targeting", headers=author)
        assert nothing_left.status_code == 409

    async def test_a_draft_cannot_be_retried(self, client: httpx.AsyncClient) -> None:
        alert = await create_alert(client)
        response = await client.post(
            f"/alerts/{alert['id']}/retry-targeting", headers=officer_headers()
        )
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"

    async def test_an_unknown_alert_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"/alerts/{uuid.uuid4()}/retry-targeting", headers=officer_headers()
        )
        assert response.status_code == 404
