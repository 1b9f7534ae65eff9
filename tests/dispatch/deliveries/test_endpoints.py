"""GET /deliveries/summary: an alert's deliveries counted, for officers and admins only."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import utcnow
from tests.support.tokens import auth_header


async def record_deliveries(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID, statuses: list[DeliveryStatus]
) -> None:
    """Committed delivery rows for ``alert_id``, one per status given (never ``created``: the
    running app's workers would take those)."""
    async with sessions.begin() as session:
        session.add_all(
            Delivery(
                alert_id=alert_id,
                member_id=uuid.uuid4(),
                channel=ChannelKind.EMAIL,
                status=status,
                attempts=1,
                last_error="refused: 550" if status is DeliveryStatus.FAILED else None,
                sent_at=utcnow() if status is DeliveryStatus.SENT else None,
            )
            for status in statuses
        )


class TestDeliverySummary:
    async def test_counts_an_alerts_deliveries_by_channel_and_status(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        alert_id = uuid.uuid4()
        sent, failed, sending = DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SENDING
        pending = DeliveryStatus.PENDING
        await record_deliveries(sessions, alert_id, [sent, sent, sent, failed, sending, pending])
        await record_deliveries(sessions, uuid.uuid4(), [sent])

        response = await client.get(
            "/deliveries/summary",
            params={"alert_id": str(alert_id)},
            headers=auth_header(roles=["admin"]),
        )

        assert response.status_code == 200
        assert response.json() == {
            "alert_id": str(alert_id),
            "total": 6,
            "channels": {
                "email": {
                    "pending": 1,
                    "created": 0,
                    "sending": 1,
                    "sent": 3,
                    "failed": 1,
                    "held": 0,
                }
            },
        }

    async def test_an_alert_without_deliveries_has_none(self, client: httpx.AsyncClient) -> None:
        alert_id = uuid.uuid4()

        response = await client.get(
            "/deliveries/summary",
            params={"alert_id": str(alert_id)},
            headers=auth_header(roles=["officer"]),
        )

        assert response.status_code == 200
        assert response.json() == {"alert_id": str(alert_id), "total": 0, "channels": {}}

    async def test_residents_may_not_read_it(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/deliveries/summary",
            params={"alert_id": str(uuid.uuid4())},
            headers=auth_header(roles=["resident"]),
        )

        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/deliveries/summary", params={"alert_id": str(uuid.uuid4())})

        assert response.status_code == 401

    async def test_an_alert_id_that_is_not_a_uuid_is_a_problem_not_an_error(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(
            "/deliveries/summary",
            params={"alert_id": "not-a-uuid"},
            headers=auth_header(roles=["officer"]),
        )

        assert response.status_code == 422
        assert response.json()["type"] == "https://tawny.london/problems/invalid-request"
