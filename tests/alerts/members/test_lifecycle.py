"""Identity's member events in alerts, through Kafka into the running app: an erased member's
replies go (or keep their text, cut from the member, when they chose so), their photos go,
and their usefulness marks keep counting anonymously; a suspended member cannot reply or
mark until reinstated."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.members.repository import ERASED_PSEUDONYM
from services.alerts.models import Reply, ReplyPhoto, SuspendedMember, Usefulness
from shared.events import (
    EventEnvelope,
    EventPayload,
    MemberErased,
    MemberExportRequested,
    MemberReinstated,
    MemberSuspended,
)
from tests.alerts.feedback.test_feedback import published
from tests.alerts.helpers import officer_headers
from tests.alerts.images.pictures import photo
from tests.support.tokens import auth_header
from tests.support.waiting import eventually


async def publish(producer: AIOKafkaProducer, payload: EventPayload) -> None:
    envelope = EventEnvelope.wrap(payload, producer="identity")
    await producer.send_and_wait(
        payload.topic.value,
        envelope.model_dump_json().encode(),
        key=payload.partition_key().encode(),
    )


def resident(member_id: uuid.UUID, pseudonym: str = "Neighbour 5150") -> dict[str, str]:
    return auth_header(roles=["resident"], member_id=member_id, pseudonym=pseudonym, vl="address")


async def reply_with_photo(
    client: httpx.AsyncClient, alert: dict[str, Any], headers: dict[str, str], text: str
) -> str:
    sent = await client.post(f"/alerts/{alert['id']}/replies", json={"text": text}, headers=headers)
    assert sent.status_code == 201, sent.text
    reply_id: str = sent.json()["id"]
    attached = await client.post(
        f"/alerts/{alert['id']}/replies/{reply_id}/photo",
        files={"file": ("a.jpg", photo(), "image/jpeg")},
        headers=headers,
    )
    assert attached.status_code == 204, attached.text
    return reply_id


async def mark(
    client: httpx.AsyncClient, alert: dict[str, Any], headers: dict[str, str], useful: bool
) -> httpx.Response:
    return await client.put(
        f"/alerts/{alert['id']}/usefulness", json={"useful": useful}, headers=headers
    )


async def rows_naming(sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID) -> int:
    async with sessions() as session:
        replies = await session.scalar(
            select(func.count()).select_from(Reply).where(Reply.member_id == member_id)
        )
        marks = await session.scalar(
            select(func.count()).select_from(Usefulness).where(Usefulness.member_id == member_id)
        )
        return int(replies or 0) + int(marks or 0)


async def stats(client: httpx.AsyncClient, alert: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/alerts/{alert['id']}/stats", headers=officer_headers())
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


class TestErasure:
    async def test_replies_and_photos_go_and_marks_keep_counting_anonymously(
        self,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        alert = await published(client)
        erased, other = uuid.uuid4(), uuid.uuid4()
        reply_id = await reply_with_photo(client, alert, resident(erased), "A van at 2am.")
        await reply_with_photo(client, alert, resident(other, "Neighbour 2"), "I saw it too.")
        assert (await mark(client, alert, resident(erased), True)).status_code == 204
        assert (await mark(client, alert, resident(other), False)).status_code == 204

        await publish(producer, MemberErased(member_id=erased))

        async def forgotten() -> bool:
            return await rows_naming(sessions, erased) == 0

        await eventually(forgotten)
        async with sessions() as session:
            assert await session.get(Reply, uuid.UUID(reply_id)) is None
            assert await session.get(ReplyPhoto, uuid.UUID(reply_id)) is None
        after = await stats(client, alert)
        assert (after["useful"], after["not_useful"], after["replies"]) == (1, 1, 1)

    async def test_replies_keep_their_text_without_the_member_when_they_chose_so(
        self,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        alert = await published(client)
        erased = uuid.uuid4()
        reply_id = await reply_with_photo(client, alert, resident(erased), "Number plate LX12.")

        await publish(producer, MemberErased(member_id=erased, keep_reply_text=True))

        async def forgotten() -> bool:
            return await rows_naming(sessions, erased) == 0

        await eventually(forgotten)
        async with sessions() as session:
            kept = await session.get(Reply, uuid.UUID(reply_id))
            assert kept is not None
            assert (kept.text, kept.member_pseudonym) == ("Number plate LX12.", ERASED_PSEUDONYM)
            assert await session.get(ReplyPhoto, kept.id) is None
        inbox = await client.get(f"/alerts/{alert['id']}/replies", headers=officer_headers())
        assert [r["member_pseudonym"] for r in inbox.json()] == [ERASED_PSEUDONYM]
        assert [r["has_photo"] for r in inbox.json()] == [False]


class TestSuspension:
    async def test_a_suspended_member_cannot_reply_or_mark_until_reinstated(
        self,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        alert = await published(client)
        member_id = uuid.uuid4()
        headers = resident(member_id)

        await publish(producer, MemberSuspended(member_id=member_id))

        async def suspended() -> bool:
            async with sessions() as session:
                return await session.get(SuspendedMember, member_id) is not None

        await eventually(suspended)
        refused = await mark(client, alert, headers, True)
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("member-suspended")
        reply = await client.post(
            f"/alerts/{alert['id']}/replies", json={"text": "Hello"}, headers=headers
        )
        assert reply.status_code == 403
        assert (await stats(client, alert))["useful"] == 0

        await publish(producer, MemberReinstated(member_id=member_id))

        async def allowed() -> bool:
            return (await mark(client, alert, headers, True)).status_code == 204

        await eventually(allowed)
        again = await client.post(
            f"/alerts/{alert['id']}/replies", json={"text": "Hello"}, headers=headers
        )
        assert again.status_code == 201, again.text
        assert (await stats(client, alert))["useful"] == 1


class TestExport:
    async def test_the_members_replies_and_marks_are_their_part_of_the_export(
        self, client: httpx.AsyncClient, producer: AIOKafkaProducer
    ) -> None:
        alert = await published(client)
        member_id, export_id = uuid.uuid4(), uuid.uuid4()
        headers = resident(member_id)
        await reply_with_photo(client, alert, headers, "Two men in a grey van.")
        assert (await mark(client, alert, headers, True)).status_code == 204
        url = f"/members/me/exports/{export_id}"
        assert (await client.get(url, headers=headers)).status_code == 202

        await publish(producer, MemberExportRequested(member_id=member_id, export_id=export_id))

        async def part() -> dict[str, Any] | None:
            response = await client.get(url, headers=headers)
            return response.json() if response.status_code == 200 else None

        exported = await eventually(part)
        assert exported["service"] == "alerts"
        [reply] = exported["data"]["replies"]
        assert (reply["text"], reply["has_photo"]) == ("Two men in a grey van.", True)
        assert [m["useful"] for m in exported["data"]["usefulness_marks"]] == [True]
        # Nobody else's.
        assert (await client.get(url, headers=resident(uuid.uuid4()))).status_code == 202
