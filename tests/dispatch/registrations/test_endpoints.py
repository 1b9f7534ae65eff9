"""Members register a UK mobile number (a code by SMS through the Notify sink, confirmed with
limited tries before it expires) and an app installation's FCM token."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.notify import NotifySink
from services.dispatch.config import DispatchSettings
from services.dispatch.models import ChannelKind, PhoneConfirmation
from services.dispatch.registrations.repository import RegistrationRepository
from shared.db import utcnow
from tests.dispatch.helpers import endpoint_of
from tests.support.tokens import auth_header


def unique_mobile() -> tuple[str, str]:
    """(as a member types it, E.164)."""
    digits = f"{uuid.uuid4().int % 10**9:09d}"
    return f"07{digits[:3]} {digits[3:]}", f"+447{digits}"


def code_sent_to(sink: NotifySink, e164: str) -> str:
    body = sink.sms_to(e164)[-1].personalisation["body"]
    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, body
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


class TestPhoneNumbers:
    async def test_a_confirmed_number_becomes_the_members_sms_endpoint(
        self,
        client: httpx.AsyncClient,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id = uuid.uuid4()
        headers = auth_header(member_id=member_id)
        typed, e164 = unique_mobile()

        started = await client.put(
            "/endpoints/me/sms", json={"phone_number": typed}, headers=headers
        )
        assert started.status_code == 202, started.text
        assert started.json()["phone_number"] == f"+44*******{e164[-3:]}"
        code = code_sent_to(notify_sink, e164)
        async with sessions() as session:
            pending = await session.get(PhoneConfirmation, member_id)
            assert pending is not None and code not in pending.code_hash

        confirmed = await client.post(
            "/endpoints/me/sms/confirmation", json={"code": code}, headers=headers
        )

        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["channel"] == "sms"
        assert confirmed.json()["enabled"] is True
        async with sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.SMS)
            assert endpoint is not None and endpoint.address == e164
            assert await session.get(PhoneConfirmation, member_id) is None
        mine = (await client.get("/endpoints/me", headers=headers)).json()
        assert [e["channel"] for e in mine] == ["sms"]

    async def test_a_wrong_code_uses_up_a_try_until_none_are_left(
        self, client: httpx.AsyncClient, notify_sink: NotifySink
    ) -> None:
        headers = auth_header(member_id=uuid.uuid4())
        typed, e164 = unique_mobile()
        await client.put("/endpoints/me/sms", json={"phone_number": typed}, headers=headers)
        code = code_sent_to(notify_sink, e164)

        answers = [
            await client.post(
                "/endpoints/me/sms/confirmation", json={"code": wrong(code)}, headers=headers
            )
            for _ in range(5)
        ]
        then_right = await client.post(
            "/endpoints/me/sms/confirmation", json={"code": code}, headers=headers
        )

        assert [a.status_code for a in answers] == [422] * 5
        assert [a.json()["tries_left"] for a in answers] == [4, 3, 2, 1, 0]
        assert answers[0].headers["content-type"] == "application/problem+json"
        assert then_right.status_code == 410

    async def test_an_expired_code_is_refused(
        self,
        client: httpx.AsyncClient,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        member_id = uuid.uuid4()
        headers = auth_header(member_id=member_id)
        typed, e164 = unique_mobile()
        await client.put("/endpoints/me/sms", json={"phone_number": typed}, headers=headers)
        code = code_sent_to(notify_sink, e164)
        async with sessions.begin() as session:
            await session.execute(
                update(PhoneConfirmation)
                .where(PhoneConfirmation.member_id == member_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

        response = await client.post(
            "/endpoints/me/sms/confirmation", json={"code": code}, headers=headers
        )

        assert response.status_code == 410

    async def test_a_new_code_replaces_the_old_one(
        self, client: httpx.AsyncClient, notify_sink: NotifySink
    ) -> None:
        headers = auth_header(member_id=uuid.uuid4())
        typed, e164 = unique_mobile()
        await client.put("/endpoints/me/sms", json={"phone_number": typed}, headers=headers)
        first = code_sent_to(notify_sink, e164)
        await client.put("/endpoints/me/sms", json={"phone_number": typed}, headers=headers)
        second = code_sent_to(notify_sink, e164)

        if first != second:
            stale = await client.post(
                "/endpoints/me/sms/confirmation", json={"code": first}, headers=headers
            )
            assert stale.status_code == 422
        fresh = await client.post(
            "/endpoints/me/sms/confirmation", json={"code": second}, headers=headers
        )
        assert fresh.status_code == 200

    async def test_refuses_what_is_not_a_uk_mobile_and_a_code_nobody_asked_for(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = auth_header(member_id=uuid.uuid4())
        landline = await client.put(
            "/endpoints/me/sms", json={"phone_number": "020 7946 0000"}, headers=headers
        )
        unasked = await client.post(
            "/endpoints/me/sms/confirmation", json={"code": "123456"}, headers=headers
        )
        malformed = await client.post(
            "/endpoints/me/sms/confirmation", json={"code": "12a456"}, headers=headers
        )
        assert landline.status_code == 422
        assert unasked.status_code == 404
        assert malformed.status_code == 422

    async def test_the_provider_being_down_is_a_503_and_stores_nothing(
        self,
        client: httpx.AsyncClient,
        notify_sink: NotifySink,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        from deploy.sinks.http import HttpFault

        member_id = uuid.uuid4()
        typed, e164 = unique_mobile()
        notify_sink.add_fault(HttpFault(target=e164, status=500, times=1))

        response = await client.put(
            "/endpoints/me/sms",
            json={"phone_number": typed},
            headers=auth_header(member_id=member_id),
        )

        assert response.status_code == 503
        async with sessions() as session:
            assert await session.get(PhoneConfirmation, member_id) is None

    async def test_removing_the_number(
        self, client: httpx.AsyncClient, notify_sink: NotifySink
    ) -> None:
        headers = auth_header(member_id=uuid.uuid4())
        typed, e164 = unique_mobile()
        await client.put("/endpoints/me/sms", json={"phone_number": typed}, headers=headers)
        code = code_sent_to(notify_sink, e164)
        await client.post("/endpoints/me/sms/confirmation", json={"code": code}, headers=headers)

        removed = await client.delete("/endpoints/me/sms", headers=headers)
        again = await client.delete("/endpoints/me/sms", headers=headers)

        assert (removed.status_code, again.status_code) == (204, 204)
        assert (await client.get("/endpoints/me", headers=headers)).json() == []

    async def test_needs_a_signed_in_member(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/endpoints/me/sms", json={"phone_number": "07700900123"})
        assert response.status_code == 401


class TestAppInstallations:
    async def test_registers_two_installations_and_removes_them(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        headers = auth_header(member_id=member_id)
        first, second = (f"device-{uuid.uuid4().hex}:APA91b" for _ in range(2))

        registered = await client.put("/endpoints/me/fcm", json={"token": first}, headers=headers)
        added = await client.put("/endpoints/me/fcm", json={"token": second}, headers=headers)

        assert registered.status_code == 200
        # An installation shows its token's last four characters, never the token.
        assert added.json() == {**added.json(), "channel": "fcm", "address": "***A91b"}
        assert added.json()["id"] != registered.json()["id"]
        async with sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.FCM)
            assert endpoint is not None and endpoint.address == first
        assert len((await client.get("/endpoints/me", headers=headers)).json()) == 2
        assert (await client.delete("/endpoints/me/fcm", headers=headers)).status_code == 204
        assert (await client.get("/endpoints/me", headers=headers)).json() == []

    async def test_refuses_something_that_is_no_token(self, client: httpx.AsyncClient) -> None:
        response = await client.put(
            "/endpoints/me/fcm",
            json={"token": "<script>alert(1)</script>"},
            headers=auth_header(member_id=uuid.uuid4()),
        )
        assert response.status_code == 422


class TestCodeLimitsPerNumber:
    async def test_past_the_limit_a_number_gets_no_text_and_the_answer_is_unchanged(
        self, client: httpx.AsyncClient, notify_sink: NotifySink, settings: DispatchSettings
    ) -> None:
        typed, e164 = unique_mobile()
        limit = settings.sms_codes_per_number
        # Different members asking for one number (someone else's, for all they know).
        members = [uuid.uuid4() for _ in range(limit + 2)]

        answers = [
            await client.put(
                "/endpoints/me/sms", json={"phone_number": typed}, headers=auth_header(member_id=m)
            )
            for m in members
        ]

        assert [answer.status_code for answer in answers] == [202] * len(members)
        shapes = {
            (answer.json()["phone_number"], answer.json()["tries"], tuple(sorted(answer.json())))
            for answer in answers
        }
        assert len(shapes) == 1
        assert len(notify_sink.sms_to(e164)) == limit
        # The member past the limit can try a code like anyone else: the same 422 and tries.
        late = await client.post(
            "/endpoints/me/sms/confirmation",
            json={"code": "000000"},
            headers=auth_header(member_id=members[-1]),
        )
        early = await client.post(
            "/endpoints/me/sms/confirmation",
            json={"code": wrong(code_sent_to(notify_sink, e164))},
            headers=auth_header(member_id=members[limit - 1]),
        )
        assert (late.status_code, late.json()["tries_left"]) == (
            early.status_code,
            early.json()["tries_left"],
        )

    async def test_the_limit_is_per_number(
        self, client: httpx.AsyncClient, notify_sink: NotifySink, settings: DispatchSettings
    ) -> None:
        headers = auth_header(member_id=uuid.uuid4())
        flooded, flooded_e164 = unique_mobile()
        for _ in range(settings.sms_codes_per_number + 1):
            await client.put("/endpoints/me/sms", json={"phone_number": flooded}, headers=headers)
        other, other_e164 = unique_mobile()

        answer = await client.put(
            "/endpoints/me/sms", json={"phone_number": other}, headers=headers
        )

        assert answer.status_code == 202
        assert len(notify_sink.sms_to(flooded_e164)) == settings.sms_codes_per_number
        assert len(notify_sink.sms_to(other_e164)) == 1


class TestRequestCounts:
    async def test_a_window_that_ended_starts_over(self, session: AsyncSession) -> None:
        repository = RegistrationRepository(session)
        key = uuid.uuid4().hex
        now = utcnow()

        first = await repository.count_code_request(
            key, at=now, window_started_after=now - timedelta(hours=1)
        )
        second = await repository.count_code_request(
            key, at=now, window_started_after=now - timedelta(hours=1)
        )
        later = now + timedelta(hours=2)
        after_the_window = await repository.count_code_request(
            key, at=later, window_started_after=later - timedelta(hours=1)
        )

        assert (first, second, after_the_window) == (1, 2, 1)
