"""POST /receipts/notify: Notify's delivery callbacks mark SMS deliveries (and letters)
delivered or failed; an alert's SMS goes out through the sink and its receipt comes back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.http import EmbeddedHttpServer
from deploy.sinks.notify import NotifySink, SentNotification
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Letter,
    LetterStatus,
)
from shared.db import utcnow
from tests.dispatch.conftest import NOTIFY_RECEIPT_TOKEN
from tests.dispatch.helpers import deliveries_of, endpoint_of, eventually, publish, recipient_batch

AUTH = {"Authorization": f"Bearer {NOTIFY_RECEIPT_TOKEN}"}


def unique_mobile() -> str:
    return f"+447{uuid.uuid4().int % 10**9:09d}"


def notify_time(moment: datetime) -> str:
    """A time as Notify writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def callback(
    notification_id: uuid.UUID | str,
    status: str,
    *,
    reference: str | None,
    to: str,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The body Notify posts (as the sink's ``send_receipt`` builds it): created now unless
    told otherwise, handed over a second later and completed five seconds later."""
    created = created_at or datetime.now(UTC).replace(microsecond=0)
    return {
        "id": str(notification_id),
        "reference": reference,
        "to": to,
        "status": status,
        "created_at": notify_time(created),
        "completed_at": notify_time(created + timedelta(seconds=5)),
        "sent_at": notify_time(created + timedelta(seconds=1)),
        "notification_type": "sms",
        "template_id": str(uuid.uuid4()),
        "template_version": 1,
    }


def callback_for(
    sent: SentNotification, status: str, *, created_at: datetime | None = None
) -> dict[str, Any]:
    return callback(
        sent.id, status, reference=sent.reference, to=sent.phone_number or "", created_at=created_at
    )


async def add_sms_endpoint(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID, phone: str
) -> None:
    async with sessions.begin() as session:
        await MemberEndpointRepository(session).record_verified(
            member_id=member_id, channel=ChannelKind.SMS, address=phone, verified_at=utcnow()
        )


async def add_delivery(
    sessions: async_sessionmaker[AsyncSession], status: DeliveryStatus, **fields: Any
) -> Delivery:
    columns: dict[str, Any] = {
        "id": uuid.uuid4(),
        "alert_id": uuid.uuid4(),
        "member_id": uuid.uuid4(),
        "channel": ChannelKind.SMS,
        "status": status,
        "sent_at": utcnow() if status is DeliveryStatus.SENT else None,
    }
    delivery = Delivery(**{**columns, **fields})
    async with sessions.begin() as session:
        session.add(delivery)
    return delivery


async def reload(sessions: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID) -> Delivery:
    async with sessions() as session:
        found = await session.get(Delivery, delivery_id)
        assert found is not None
        return found


@pytest.mark.usefixtures("app")
class TestAnAlertBySms:
    async def test_goes_through_the_sink_and_its_receipt_marks_it_delivered(
        self,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id, phone = uuid.uuid4(), unique_mobile()
        await add_sms_endpoint(sessions, member_id, phone)
        batch = recipient_batch([member_id])
        await publish(producer, batch)

        async def sent_sms() -> list[Delivery]:
            rows = await deliveries_of(sessions, batch.content.alert_id)
            return [r for r in rows if r.channel is ChannelKind.SMS and r.status == "sent"]

        [delivery] = await eventually(sent_sms)
        [sms] = notify_sink.sms_to(phone)
        assert sms.reference == str(delivery.id)
        assert delivery.provider_reference == str(sms.id)
        assert batch.content.headline in sms.personalisation["body"]

        created = datetime.now(UTC).replace(microsecond=0)
        response = await client.post(
            "/receipts/notify",
            json=callback_for(sms, "delivered", created_at=created),
            headers=AUTH,
        )

        assert response.status_code == 204
        delivered = await reload(sessions, delivery.id)
        assert delivered.delivered_at == created + timedelta(seconds=5)
        assert delivered.status is DeliveryStatus.SENT


@pytest.fixture
async def served_app(app: FastAPI) -> AsyncIterator[str]:
    """The running app over real HTTP, so the sink's callbacks can reach it."""
    server = EmbeddedHttpServer(app, host="127.0.0.1", port=0, name="dispatch-under-test")
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


class TestReceiptsOverHttp:
    async def test_the_sinks_own_callback_reaches_dispatch_and_marks_the_sms_delivered(
        self,
        served_app: str,
        producer: AIOKafkaProducer,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id, phone = uuid.uuid4(), unique_mobile()
        await add_sms_endpoint(sessions, member_id, phone)
        notify_sink.receipts_url = f"{served_app}/receipts/notify"
        notify_sink.receipts_token = NOTIFY_RECEIPT_TOKEN
        notify_sink.auto_receipts = True
        try:
            batch = recipient_batch([member_id])
            await publish(producer, batch)

            async def delivered() -> list[Delivery]:
                rows = await deliveries_of(sessions, batch.content.alert_id)
                return [r for r in rows if r.delivered_at is not None and r.status == "sent"]

            [delivery] = await eventually(delivered)
        finally:
            notify_sink.auto_receipts = False
            notify_sink.receipts_url = notify_sink.receipts_token = None

        [sms] = notify_sink.sms_to(phone)
        assert delivery.provider_reference == str(sms.id)


class TestReceipts:
    async def test_a_permanent_failure_fails_the_delivery_and_disables_the_number(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id, phone = uuid.uuid4(), unique_mobile()
        await add_sms_endpoint(sessions, member_id, phone)
        notification_id = uuid.uuid4()
        delivery = await add_delivery(
            sessions,
            DeliveryStatus.SENT,
            member_id=member_id,
            provider_reference=str(notification_id),
        )

        response = await client.post(
            "/receipts/notify",
            json=callback(
                notification_id, "permanent-failure", reference=str(delivery.id), to=phone
            ),
            headers=AUTH,
        )

        assert response.status_code == 204
        failed = await reload(sessions, delivery.id)
        assert failed.status is DeliveryStatus.FAILED
        assert failed.last_error == "provider receipt: permanent-failure"
        assert failed.sent_at is not None
        async with sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.SMS)
            assert endpoint is not None and endpoint.disabled_at is not None

    async def test_a_temporary_failure_fails_it_but_keeps_the_number(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id, phone = uuid.uuid4(), unique_mobile()
        await add_sms_endpoint(sessions, member_id, phone)
        notification_id = uuid.uuid4()
        delivery = await add_delivery(
            sessions,
            DeliveryStatus.SENT,
            member_id=member_id,
            provider_reference=str(notification_id),
        )

        await client.post(
            "/receipts/notify",
            json=callback(notification_id, "temporary-failure", reference=None, to=phone),
            headers=AUTH,
        )

        assert (await reload(sessions, delivery.id)).status is DeliveryStatus.FAILED
        async with sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.SMS)
            assert endpoint is not None and endpoint.disabled_at is None

    async def test_a_receipt_that_overtakes_the_workers_record_is_kept_or_postponed(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        delivered = await add_delivery(sessions, DeliveryStatus.SENDING)
        failing = await add_delivery(sessions, DeliveryStatus.SENDING)

        early_delivered = await client.post(
            "/receipts/notify",
            json=callback(uuid.uuid4(), "delivered", reference=str(delivered.id), to="x"),
            headers=AUTH,
        )
        early_failure = await client.post(
            "/receipts/notify",
            json=callback(uuid.uuid4(), "technical-failure", reference=str(failing.id), to="x"),
            headers=AUTH,
        )

        assert early_delivered.status_code == 204
        assert (await reload(sessions, delivered.id)).delivered_at is not None
        assert early_failure.status_code == 409
        assert early_failure.headers["retry-after"]
        assert (await reload(sessions, failing.id)).status is DeliveryStatus.SENDING

    async def test_a_repeated_or_unknown_receipt_changes_nothing(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        notification_id = uuid.uuid4()
        delivery = await add_delivery(
            sessions, DeliveryStatus.SENT, provider_reference=str(notification_id)
        )
        body = callback(notification_id, "delivered", reference=None, to="x")
        first = await client.post("/receipts/notify", json=body, headers=AUTH)
        at = (await reload(sessions, delivery.id)).delivered_at
        later_failure = await client.post(
            "/receipts/notify",
            json={**body, "status": "permanent-failure"},
            headers=AUTH,
        )
        unknown = await client.post(
            "/receipts/notify",
            json=callback(uuid.uuid4(), "delivered", reference="not ours", to="x"),
            headers=AUTH,
        )

        assert (first.status_code, later_failure.status_code, unknown.status_code) == (
            204,
            204,
            204,
        )
        after = await reload(sessions, delivery.id)
        assert after.delivered_at == at
        assert after.status is DeliveryStatus.SENT

    async def test_a_letters_receipt_updates_the_letter(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        letter_id, notification_id = uuid.uuid4(), uuid.uuid4()
        async with sessions.begin() as session:
            session.add(
                Letter(
                    letter_id=letter_id,
                    member_id=uuid.uuid4(),
                    status=LetterStatus.SENT,
                    provider_reference=str(notification_id),
                    sent_at=utcnow(),
                )
            )

        response = await client.post(
            "/receipts/notify",
            json={
                **callback(notification_id, "delivered", reference=str(letter_id), to="Ada"),
                "notification_type": "letter",
            },
            headers=AUTH,
        )

        assert response.status_code == 204
        async with sessions() as session:
            letter = await session.get(Letter, letter_id)
            assert letter is not None
            assert letter.status is LetterStatus.DELIVERED
            assert letter.delivered_at is not None

    @pytest.mark.parametrize(
        "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}]
    )
    async def test_needs_the_configured_bearer_token(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/receipts/notify",
            json=callback(uuid.uuid4(), "delivered", reference=None, to="x"),
            headers=headers,
        )
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    async def test_refuses_a_malformed_callback(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/receipts/notify", json={"id": "not-a-uuid", "status": "delivered"}, headers=AUTH
        )
        assert response.status_code == 422
