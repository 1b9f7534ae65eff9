"""The members' web push API, and a subscribed member receiving an alert end to end: a recipient
batch through Kafka into dispatch running in-process, out to the push sink (which checks VAPID
and decrypts) and to the SMTP sink."""

from __future__ import annotations

import uuid

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import SmtpSink
from deploy.sinks.webpush import ReceivedPush, WebPushSink
from services.dispatch.channels.webpush import WebPushChannel, _payload
from services.dispatch.members.consumers import GROUP_ID as MEMBERS
from services.dispatch.models import ChannelKind, DeliveryStatus, MemberEndpoint
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
from tests.dispatch.helpers import endpoint_of as stored_endpoint
from tests.support.tokens import auth_header


def app_channel(app: FastAPI) -> WebPushChannel:
    channel = app.state.webpush_channel
    assert isinstance(channel, WebPushChannel)
    return channel


async def endpoint_of(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID
) -> MemberEndpoint | None:
    async with sessions() as session:
        return await stored_endpoint(session, member_id, ChannelKind.WEBPUSH)


class TestVapidPublicKey:
    async def test_is_public_and_is_the_key_pushes_are_signed_with(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/webpush/vapid-public-key")

        assert response.status_code == 200
        key = response.json()["application_server_key"]
        assert key == app_channel(app).signer.application_server_key
        assert len(key) == 87


class TestSubscribing:
    async def test_records_the_subscription_and_lists_it_masked(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        subscription = browser_subscription(app, webpush_sink)

        response = await client.put(
            "/endpoints/me/webpush", json=subscription, headers=auth_header(member_id=member_id)
        )

        assert response.status_code == 200
        endpoint = await endpoint_of(sessions, member_id)
        assert endpoint is not None and subscription["endpoint"] in endpoint.address
        assert response.json() == {
            "id": str(endpoint.id),
            "push_service": webpush_sink.origin,
            "enabled": True,
        }
        listed = await client.get("/endpoints/me", headers=auth_header(member_id=member_id))
        # The push service says which browser it is; the subscription's URL stays unshown.
        assert [(e["channel"], e["address"]) for e in listed.json()] == [
            ("webpush", webpush_sink.origin)
        ]

    async def test_a_new_browser_is_added_beside_the_previous_one(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        first, second = (browser_subscription(app, webpush_sink) for _ in range(2))

        for subscription in (first, second):
            response = await client.put(
                "/endpoints/me/webpush",
                json=subscription,
                headers=auth_header(member_id=member_id),
            )
            assert response.status_code == 200

        listed = await client.get("/endpoints/me", headers=auth_header(member_id=member_id))
        assert [e["channel"] for e in listed.json()] == ["webpush", "webpush"]
        endpoint = await endpoint_of(sessions, member_id)
        assert endpoint is not None and first["endpoint"] in endpoint.address

    async def test_unsubscribing_forgets_it(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        webpush_sink: WebPushSink,
    ) -> None:
        member_id = uuid.uuid4()
        headers = auth_header(member_id=member_id)
        await client.put(
            "/endpoints/me/webpush", json=browser_subscription(app, webpush_sink), headers=headers
        )

        first = await client.delete("/endpoints/me/webpush", headers=headers)
        again = await client.delete("/endpoints/me/webpush", headers=headers)

        assert (first.status_code, again.status_code) == (204, 204)
        assert await endpoint_of(sessions, member_id) is None

    async def test_refuses_unusable_subscriptions(
        self, app: FastAPI, client: httpx.AsyncClient, webpush_sink: WebPushSink
    ) -> None:
        valid = browser_subscription(app, webpush_sink)
        keys = valid["keys"]
        invalid = [
            {**valid, "endpoint": "http://push.example.org/abc"},
            {**valid, "endpoint": "ftp://push.example.org/abc"},
            {**valid, "endpoint": "https://user:pw@push.example.org/abc"},
            {**valid, "endpoint": "https://push.example.org/" + "a" * 1100},
            {**valid, "keys": {**keys, "p256dh": keys["p256dh"][:-2]}},
            {**valid, "keys": {**keys, "p256dh": "*" * 87}},
            {**valid, "keys": {**keys, "auth": keys["auth"][:-3]}},
            {"endpoint": valid["endpoint"]},
        ]

        for body in invalid:
            response = await client.put(
                "/endpoints/me/webpush", json=body, headers=auth_header(member_id=uuid.uuid4())
            )
            assert response.status_code == 422, body
            assert response.headers["content-type"] == "application/problem+json"

    async def test_needs_a_signed_in_caller(
        self, app: FastAPI, client: httpx.AsyncClient, webpush_sink: WebPushSink
    ) -> None:
        put = await client.put(
            "/endpoints/me/webpush", json=browser_subscription(app, webpush_sink)
        )
        delete = await client.delete("/endpoints/me/webpush")

        assert (put.status_code, delete.status_code) == (401, 401)


class TestAlertReachesTheBrowser:
    async def test_a_subscribed_member_gets_the_alert_by_push_and_by_email(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        sink: SmtpSink,
        webpush_sink: WebPushSink,
    ) -> None:
        member_id, address = uuid.uuid4(), unique_email()
        verified = await publish(producer, email_verified(member_id, address))
        await wait_until_processed(sessions, MEMBERS, verified.event_id)
        subscription = browser_subscription(app, webpush_sink)
        subscribed = await client.put(
            "/endpoints/me/webpush", json=subscription, headers=auth_header(member_id=member_id)
        )
        assert subscribed.status_code == 200
        batch = recipient_batch([member_id])

        await publish(producer, batch)

        async def pushed() -> list[ReceivedPush]:
            return webpush_sink.received(subscription)

        [push] = await eventually(pushed)
        assert push.payload.encode() == _payload(batch.content)

        async def both_sent() -> bool:
            rows = await deliveries_of(sessions, batch.content.alert_id)
            return len(rows) == 2 and all(r.status is DeliveryStatus.SENT for r in rows)

        await eventually(both_sent)
        rows = await deliveries_of(sessions, batch.content.alert_id)
        assert {row.channel for row in rows} == {ChannelKind.EMAIL, ChannelKind.WEBPUSH}
        assert len(sink.messages_to(address)) == 1
