"""Identity's member events, through Kafka into the running geo app: a verified address sets
the home ward; an erased member's subscriptions are deleted."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from shared.events import EventEnvelope, EventPayload, MemberAddressVerified, MemberErased
from tests.support.tokens import auth_header
from tests.support.waiting import eventually

HOME_WARD = "E05999991"  # the demo geography's first ward
OTHER_WARD = "E05999992"


async def publish(producer: AIOKafkaProducer, payload: EventPayload) -> None:
    envelope = EventEnvelope.wrap(payload, producer="identity")
    await producer.send_and_wait(
        payload.topic.value,
        envelope.model_dump_json().encode(),
        key=payload.partition_key().encode(),
    )


class TestMemberEvents:
    async def test_verified_address_sets_home_ward_and_erasure_removes_everything(
        self, client: httpx.AsyncClient, producer: AIOKafkaProducer
    ) -> None:
        member_id = uuid.uuid4()
        headers = auth_header(roles=["resident"], member_id=member_id)
        watched = await client.post(
            "/subscriptions", json={"ward_code": OTHER_WARD}, headers=headers
        )
        assert watched.status_code == 201, watched.text

        await publish(
            producer,
            MemberAddressVerified(member_id=member_id, home_ward_code=HOME_WARD, h3_cell=None),
        )

        async def home_subscription() -> list[dict[str, Any]]:
            mine = (await client.get("/subscriptions", headers=headers)).json()
            return [s for s in mine if s["kind"] == "home"]

        home = await eventually(home_subscription)
        assert [s["ward_code"] for s in home] == [HOME_WARD]

        await publish(producer, MemberErased(member_id=member_id))

        async def nothing_left() -> bool:
            remaining: list[Any] = (await client.get("/subscriptions", headers=headers)).json()
            return remaining == []

        assert await eventually(nothing_left)
