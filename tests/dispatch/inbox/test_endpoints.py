"""GET /inbox and /inbox/{alert_id}: the alerts that reached the caller, newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus, DispatchAlert, Priority
from shared.db import utcnow
from shared.events import AlertContent
from tests.dispatch.helpers import alert_content
from tests.support.tokens import auth_header


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    member_id: uuid.UUID,
    content: AlertContent,
    *,
    received_at: datetime,
    statuses: dict[ChannelKind, DeliveryStatus],
) -> None:
    """The alert's content and one committed delivery per channel to ``member_id`` (never
    ``created``: the running app's workers would take those)."""
    async with sessions.begin() as session:
        session.add(
            DispatchAlert(
                alert_id=content.alert_id,
                content=content.model_dump(mode="json"),
                priority=Priority.NORMAL,
                deliver_until=received_at + timedelta(days=1),
                created_at=received_at,
            )
        )
        await session.flush()
        session.add_all(
            Delivery(
                alert_id=content.alert_id,
                member_id=member_id,
                channel=channel,
                status=status,
                attempts=1,
                sent_at=utcnow() if status is DeliveryStatus.SENT else None,
            )
            for channel, status in statuses.items()
        )


SENT_BY_EMAIL = {ChannelKind.EMAIL: DeliveryStatus.SENT}


def an_hour_ago() -> datetime:
    """Recent enough that the retention purge never takes the test's rows away."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


async def three_delivered_a_minute_apart(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID
) -> list[AlertContent]:
    start = an_hour_ago()
    contents = [alert_content() for _ in range(3)]
    for minutes, content in enumerate(contents):
        await deliver(
            sessions,
            member_id,
            content,
            received_at=start + timedelta(minutes=minutes),
            statuses=SENT_BY_EMAIL,
        )
    return contents


class TestMyInbox:
    async def test_lists_the_alerts_that_reached_me_newest_first(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        start = an_hour_ago()
        older, newer = alert_content(), alert_content(instruction="Lock your shed.")
        await deliver(sessions, member_id, older, received_at=start, statuses=SENT_BY_EMAIL)
        await deliver(
            sessions,
            member_id,
            newer,
            received_at=start + timedelta(hours=1),
            statuses={
                ChannelKind.EMAIL: DeliveryStatus.SENDING,
                ChannelKind.SMS: DeliveryStatus.SENT,
            },
        )

        response = await client.get("/inbox", headers=auth_header(member_id=member_id))

        assert response.status_code == 200
        alerts = response.json()
        assert [alert["alert_id"] for alert in alerts] == [str(newer.alert_id), str(older.alert_id)]
        assert alerts[0]["headline"] == newer.headline
        assert alerts[0]["instruction"] == "Lock your shed."
        assert alerts[0]["received_at"] == (start + timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        assert [(d["channel"], d["status"]) for d in alerts[0]["deliveries"]] == [
            ("email", "sending"),
            ("sms", "sent"),
        ]

    async def test_pages_with_limit_and_offset(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        contents = await three_delivered_a_minute_apart(sessions, member_id)
        headers = auth_header(member_id=member_id)

        first = await client.get("/inbox", params={"limit": 2}, headers=headers)
        second = await client.get("/inbox", params={"limit": 2, "offset": 2}, headers=headers)

        assert [a["alert_id"] for a in first.json()] == [
            str(contents[2].alert_id),
            str(contents[1].alert_id),
        ]
        assert [a["alert_id"] for a in second.json()] == [str(contents[0].alert_id)]

    async def test_pages_by_cursor_until_the_last_page(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        contents = await three_delivered_a_minute_apart(sessions, member_id)
        headers = auth_header(member_id=member_id)

        first = await client.get("/inbox", params={"limit": 2}, headers=headers)
        # One arriving after the first page: an offset would now repeat an alert.
        await deliver(
            sessions, member_id, alert_content(), received_at=utcnow(), statuses=SENT_BY_EMAIL
        )
        second = await client.get(first.url.join(first.links["next"]["url"]), headers=headers)

        assert first.headers["next-cursor"] in first.headers["link"]
        assert [a["alert_id"] for a in first.json() + second.json()] == [
            str(content.alert_id) for content in reversed(contents)
        ]
        assert second.status_code == 200
        assert "link" not in second.headers
        assert "next-cursor" not in second.headers

    async def test_a_tampered_cursor_is_a_problem(self, client: httpx.AsyncClient) -> None:
        headers = auth_header(member_id=uuid.uuid4())

        for cursor in ("not-a-cursor", "WyJ4IiwgInkiXQ"):
            response = await client.get("/inbox", params={"cursor": cursor}, headers=headers)

            assert response.status_code == 400, cursor
            assert response.headers["content-type"] == "application/problem+json"
        both = await client.get("/inbox", params={"cursor": "x", "offset": 2}, headers=headers)
        assert both.status_code == 400

    async def test_leaves_out_other_members_alerts_and_failed_deliveries(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id, neighbour = uuid.uuid4(), uuid.uuid4()
        now = utcnow()
        pending, failed, theirs = alert_content(), alert_content(), alert_content()
        await deliver(
            sessions,
            member_id,
            pending,
            received_at=now,
            statuses={ChannelKind.EMAIL: DeliveryStatus.PENDING},
        )
        await deliver(
            sessions,
            member_id,
            failed,
            received_at=now,
            statuses={ChannelKind.EMAIL: DeliveryStatus.FAILED},
        )
        await deliver(sessions, neighbour, theirs, received_at=now, statuses=SENT_BY_EMAIL)

        response = await client.get("/inbox", headers=auth_header(member_id=member_id))

        assert [alert["alert_id"] for alert in response.json()] == [str(pending.alert_id)]

    async def test_is_empty_for_a_new_member(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/inbox", headers=auth_header(member_id=uuid.uuid4()))

        assert response.status_code == 200
        assert response.json() == []

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/inbox")

        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    async def test_a_page_too_large_is_a_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/inbox", params={"limit": 1000}, headers=auth_header(member_id=uuid.uuid4())
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


class TestMyInboxAlert:
    async def test_reads_one_alert_that_reached_me(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        original = uuid.uuid4()
        update = alert_content(msg_type="Update", references=original, contact="Call 101")
        await deliver(sessions, member_id, update, received_at=utcnow(), statuses=SENT_BY_EMAIL)

        response = await client.get(
            f"/inbox/{update.alert_id}", headers=auth_header(member_id=member_id)
        )

        assert response.status_code == 200
        alert = response.json()
        assert alert["msg_type"] == "Update"
        assert alert["references"] == str(original)
        assert alert["contact"] == "Call 101"
        assert alert["body"] == update.body
        assert alert["sender_name"] == "Hackney Police"

    async def test_another_members_alert_is_not_found(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        theirs = alert_content()
        await deliver(sessions, uuid.uuid4(), theirs, received_at=utcnow(), statuses=SENT_BY_EMAIL)

        response = await client.get(
            f"/inbox/{theirs.alert_id}", headers=auth_header(member_id=uuid.uuid4())
        )

        assert response.status_code == 404
        assert response.json()["type"].endswith("inbox-alert-not-found")

    async def test_an_id_that_is_not_a_uuid_is_a_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/inbox/not-an-id", headers=auth_header(member_id=uuid.uuid4()))

        assert response.status_code == 422
