"""A member's several devices: two browsers (web push) and a phone (FCM) each receive an alert
once, through the running dispatcher and the push sinks; a dead one is disabled on its own;
each is removable by its id; the limit per channel; the same device registered twice is one;
erasure forgets them all."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.fcm import FcmSink
from deploy.sinks.smtp import SmtpSink
from deploy.sinks.webpush import WebPushSink
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.members.consumers import GROUP_ID as MEMBERS
from services.dispatch.members.service import MemberLifecycleService
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus, MemberEndpoint
from services.dispatch.status.repository import StatusRepository
from shared.db import session_scope
from tests.dispatch.helpers import (
    browser_subscription,
    deliveries_of,
    email_verified,
    eventually,
    publish,
    recipient_batch,
    unique_email,
    wait_until_processed,
)
from tests.support.tokens import auth_header


def browsers(app: FastAPI, sink: WebPushSink, count: int) -> list[dict[str, Any]]:
    return [browser_subscription(app, sink) for _ in range(count)]


def a_phone() -> str:
    return f"device-{uuid.uuid4().hex}:APA91b"


async def register_browser(
    client: httpx.AsyncClient, member_id: uuid.UUID, subscription: dict[str, Any]
) -> httpx.Response:
    return await client.put(
        "/endpoints/me/webpush", json=subscription, headers=auth_header(member_id=member_id)
    )


async def endpoints_of(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID
) -> list[MemberEndpoint]:
    async with sessions() as session:
        found = await session.scalars(
            select(MemberEndpoint)
            .where(MemberEndpoint.member_id == member_id)
            .order_by(MemberEndpoint.created_at)
        )
        return list(found)


async def member_with_email(
    producer: AIOKafkaProducer, sessions: async_sessionmaker[AsyncSession]
) -> tuple[uuid.UUID, str]:
    member_id, address = uuid.uuid4(), unique_email()
    verified = await publish(producer, email_verified(member_id, address))
    await wait_until_processed(sessions, MEMBERS, verified.event_id)
    return member_id, address


class TestAnAlertReachesEveryDeviceOnce:
    async def test_two_browsers_and_a_phone_each_receive_it_once_even_when_redelivered(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
        webpush_sink: WebPushSink,
        fcm_sink: FcmSink,
    ) -> None:
        member_id, address = await member_with_email(producer, sessions)
        laptop, desktop = browsers(app, webpush_sink, 2)
        phone = a_phone()
        for browser in (laptop, desktop):
            assert (await register_browser(client, member_id, browser)).status_code == 200
        registered = await client.put(
            "/endpoints/me/fcm", json={"token": phone}, headers=auth_header(member_id=member_id)
        )
        assert registered.status_code == 200
        batch = recipient_batch([member_id])

        # The same batch twice, the second under a new event id, as after a crash before the
        # offset was committed.
        await publish(producer, batch)
        await publish(producer, batch)

        async def all_sent() -> list[Delivery]:
            rows = await deliveries_of(sessions, batch.content.alert_id)
            done = len(rows) == 4 and all(r.status is DeliveryStatus.SENT for r in rows)
            return rows if done else []

        rows = await eventually(all_sent)
        endpoints = await endpoints_of(sessions, member_id)
        assert sorted(row.endpoint_id for row in rows if row.endpoint_id) == sorted(
            endpoint.id for endpoint in endpoints
        )
        for browser in (laptop, desktop):
            [push] = webpush_sink.received(browser)
            assert str(batch.content.alert_id) in push.payload
        assert len(fcm_sink.messages_to(phone)) == 1
        assert len(sink.messages_to(address)) == 1
        # The alert's figures count the member once per channel.
        async with sessions() as session:
            totals = await StatusRepository(session).totals(batch.content.alert_id)
        assert totals["webpush"].recipients == 1 and totals["webpush"].sent == 1
        # And the member's inbox shows each channel once.
        inbox = await client.get(
            f"/inbox/{batch.content.alert_id}", headers=auth_header(member_id=member_id)
        )
        assert sorted(d["channel"] for d in inbox.json()["deliveries"]) == [
            "email",
            "fcm",
            "webpush",
        ]

    async def test_a_dead_browser_is_disabled_and_the_other_keeps_receiving(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        gone, live = browsers(app, webpush_sink, 2)
        for browser in (gone, live):
            assert (await register_browser(client, member_id, browser)).status_code == 200
        webpush_sink.expire(gone)
        first = recipient_batch([member_id])

        await publish(producer, first)

        async def settled(alert_id: uuid.UUID, count: int) -> list[Delivery]:
            rows = await deliveries_of(sessions, alert_id)
            done = len(rows) == count and all(r.status in ("sent", "failed") for r in rows)
            return rows if done else []

        rows = await eventually(lambda: settled(first.content.alert_id, 2))
        assert sorted(row.status for row in rows) == [DeliveryStatus.FAILED, DeliveryStatus.SENT]
        by_address = {endpoint.id: endpoint for endpoint in await endpoints_of(sessions, member_id)}
        [failed] = [row for row in rows if row.status is DeliveryStatus.FAILED]
        assert failed.endpoint_id is not None
        assert gone["endpoint"] in by_address[failed.endpoint_id].address
        assert by_address[failed.endpoint_id].disabled_at is not None
        [kept] = [e for e in by_address.values() if e.id != failed.endpoint_id]
        assert kept.disabled_at is None
        # Reached on one browser: one recipient, sent, not failed.
        async with sessions() as session:
            totals = await StatusRepository(session).totals(first.content.alert_id)
        assert (totals["webpush"].recipients, totals["webpush"].sent) == (1, 1)
        assert totals["webpush"].failed == 0
        listed = await client.get("/endpoints/me", headers=auth_header(member_id=member_id))
        assert sorted(e["enabled"] for e in listed.json()) == [False, True]

        second = recipient_batch([member_id])
        await publish(producer, second)

        [row] = await eventually(lambda: settled(second.content.alert_id, 1))
        assert row.status is DeliveryStatus.SENT and row.endpoint_id == kept.id
        assert len(webpush_sink.received(live)) == 2
        assert len(webpush_sink.received(gone)) == 0


class TestRegisteringDevices:
    async def test_the_same_subscription_twice_is_one_device(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        browser = browser_subscription(app, webpush_sink)

        first = await register_browser(client, member_id, browser)
        again = await register_browser(client, member_id, browser)

        assert first.status_code == again.status_code == 200
        assert first.json()["id"] == again.json()["id"]
        assert len(await endpoints_of(sessions, member_id)) == 1

    async def test_the_same_app_token_twice_is_one_installation(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id, token = uuid.uuid4(), a_phone()
        headers = auth_header(member_id=member_id)

        ids = [
            (await client.put("/endpoints/me/fcm", json={"token": token}, headers=headers)).json()[
                "id"
            ]
            for _ in range(2)
        ]

        assert ids[0] == ids[1]
        assert len(await endpoints_of(sessions, member_id)) == 1

    async def test_past_the_limit_a_new_browser_is_refused_but_a_known_one_is_refreshed(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        settings: DispatchSettings,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        registered = browsers(app, webpush_sink, settings.devices_per_channel)
        for browser in registered:
            assert (await register_browser(client, member_id, browser)).status_code == 200

        refused = await register_browser(client, member_id, browser_subscription(app, webpush_sink))
        refreshed = await register_browser(client, member_id, registered[0])
        phone = await client.put(
            "/endpoints/me/fcm", json={"token": a_phone()}, headers=auth_header(member_id=member_id)
        )

        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["limit"] == settings.devices_per_channel
        assert refreshed.status_code == 200
        # The limit is per channel: the app is another.
        assert phone.status_code == 200
        assert len(await endpoints_of(sessions, member_id)) == settings.devices_per_channel + 1


class TestRemovingOneDevice:
    async def test_by_id_only_that_one_goes(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        headers = auth_header(member_id=member_id)
        first, second = browsers(app, webpush_sink, 2)
        first_id = (await register_browser(client, member_id, first)).json()["id"]
        second_id = (await register_browser(client, member_id, second)).json()["id"]
        listed = await client.get("/endpoints/me", headers=headers)
        assert [(e["id"], e["address"]) for e in listed.json()] == [
            (first_id, webpush_sink.origin),
            (second_id, webpush_sink.origin),
        ]

        someone_else = await client.delete(
            f"/endpoints/me/webpush/{first_id}", headers=auth_header(member_id=uuid.uuid4())
        )
        removed = await client.delete(f"/endpoints/me/webpush/{first_id}", headers=headers)
        again = await client.delete(f"/endpoints/me/webpush/{first_id}", headers=headers)
        wrong_channel = await client.delete(f"/endpoints/me/fcm/{second_id}", headers=headers)
        email = await client.delete(f"/endpoints/me/email/{second_id}", headers=headers)

        assert someone_else.status_code == 404
        assert removed.status_code == 204
        assert again.status_code == 404
        assert wrong_channel.status_code == 404
        assert email.status_code == 422
        assert [str(e.id) for e in await endpoints_of(sessions, member_id)] == [second_id]

    async def test_the_web_clients_delete_with_the_subscription_removes_that_browser(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        headers = auth_header(member_id=member_id)
        first, second = browsers(app, webpush_sink, 2)
        for browser in (first, second):
            await register_browser(client, member_id, browser)

        one = await client.delete(
            "/endpoints/me/webpush", params={"endpoint": first["endpoint"]}, headers=headers
        )
        [left] = await endpoints_of(sessions, member_id)
        every = await client.delete("/endpoints/me/webpush", headers=headers)

        assert (one.status_code, every.status_code) == (204, 204)
        assert second["endpoint"] in left.address
        assert await endpoints_of(sessions, member_id) == []


class TestErasure:
    async def test_forgets_every_device_and_what_was_sent_to_them(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id, _address = await member_with_email(producer, sessions)
        for browser in browsers(app, webpush_sink, 2):
            await register_browser(client, member_id, browser)
        await client.put(
            "/endpoints/me/fcm", json={"token": a_phone()}, headers=auth_header(member_id=member_id)
        )
        batch = recipient_batch([member_id])
        async with session_scope(sessions) as session:
            service = DeliveryService(
                session, channels=(ChannelKind.EMAIL, ChannelKind.WEBPUSH, ChannelKind.FCM)
            )
            report = await service.record_batch(batch)
        assert report.created == 4

        async with session_scope(sessions) as session:
            await MemberLifecycleService(session).erase(member_id)

        assert await endpoints_of(sessions, member_id) == []
        assert await deliveries_of(sessions, batch.content.alert_id) == []
