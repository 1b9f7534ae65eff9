"""Address verification by letter: a one-time code posted to a London address, entered within
30 days and 5 tries; the verified address reaches geo only as a ward and a coarse H3 cell."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import h3
import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import AddressVerification, Member
from shared.db import session_scope, utcnow
from shared.events import AddressLetterRequested, MemberAddressVerified, MemberNoticeRequested
from tests.identity.factories import signed_in_member, staged_for_member

HOME = {"name": "Sam Taylor", "address_lines": ["Flat 2", "10 Mansell Street"], "postcode": "e18aa"}


async def letter_for(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    member_id: uuid.UUID,
    headers: dict[str, str],
    address: dict[str, Any] = HOME,
) -> dict[str, Any]:
    """Ask for a letter; returns the letter event identity staged for dispatch."""
    response = await client.post("/members/me/address/letter", json=address, headers=headers)
    assert response.status_code == 202, response.text
    letters = await staged_for_member(sessions, AddressLetterRequested.event_type, member_id)
    return letters[-1]


class TestLetter:
    async def test_the_letter_event_carries_the_address_and_a_code_for_30_days(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)

        letter = await letter_for(client, sessions, member_id, headers)

        assert letter["recipient_name"] == "Sam Taylor"
        assert letter["address_lines"] == ["Flat 2", "10 Mansell Street"]
        assert letter["postcode"] == "E1 8AA"
        assert len(letter["code"]) == 8
        state = (await client.get("/members/me/address", headers=headers)).json()
        assert state["status"] == "pending" and state["method"] == "letter"
        assert state["attempts_left"] == 5
        assert state["ward_code"] == "E05009317"
        expires = datetime.fromisoformat(letter["expires_at"])
        assert abs(utcnow() + timedelta(days=30) - expires) < timedelta(minutes=1)

    async def test_the_right_code_verifies_the_address_and_tells_geo_only_the_ward(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)
        letter = await letter_for(client, sessions, member_id, headers)

        response = await client.post(
            "/members/me/address/confirmation",
            json={"code": letter["code"].lower()},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "verified"
        assert response.json()["verification_level"] == "address"
        me = (await client.get("/members/me", headers=headers)).json()
        assert me["verification_level"] == "address"
        [verified] = await staged_for_member(sessions, MemberAddressVerified.event_type, member_id)
        assert verified["home_ward_code"] == "E05009317"
        assert h3.get_resolution(verified["h3_cell"]) == 7
        assert h3.latlng_to_cell(51.5117, -0.0715, 7) == verified["h3_cell"]
        assert set(verified) == {"member_id", "home_ward_code", "h3_cell"}
        notices = await staged_for_member(sessions, MemberNoticeRequested.event_type, member_id)
        assert [notice["kind"] for notice in notices] == ["address_verified"]
        async with sessions() as session:
            member = await session.get(Member, member_id)
            assert member is not None and member.address_encrypted is not None
            assert b"Mansell" not in member.address_encrypted
            assert member.home_ward_code == "E05009317"

    async def test_wrong_codes_count_down_and_the_fifth_needs_a_new_letter(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)
        letter = await letter_for(client, sessions, member_id, headers)
        wrong = "AAAAAAAA" if letter["code"] != "AAAAAAAA" else "BBBBBBBB"

        answers = [
            await client.post(
                "/members/me/address/confirmation", json={"code": wrong}, headers=headers
            )
            for _ in range(5)
        ]

        assert [answer.status_code for answer in answers] == [400, 400, 400, 400, 410]
        assert [answer.json().get("attempts_left") for answer in answers[:4]] == [4, 3, 2, 1]
        late = await client.post(
            "/members/me/address/confirmation", json={"code": letter["code"]}, headers=headers
        )
        assert late.status_code == 409
        assert (await client.get("/members/me/address", headers=headers)).json()[
            "status"
        ] == "expired"
        assert not await staged_for_member(sessions, MemberAddressVerified.event_type, member_id)

    async def test_an_expired_code_needs_a_new_letter(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)
        letter = await letter_for(client, sessions, member_id, headers)
        async with session_scope(sessions) as session:
            await session.execute(
                update(AddressVerification)
                .where(AddressVerification.member_id == member_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

        response = await client.post(
            "/members/me/address/confirmation", json={"code": letter["code"]}, headers=headers
        )

        assert response.status_code == 410
        assert response.json()["type"].endswith("/address-code-expired")

    async def test_a_new_address_replaces_the_letter_still_waiting(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)
        first = await letter_for(client, sessions, member_id, headers)
        second = await letter_for(
            client, sessions, member_id, headers, {**HOME, "postcode": "WC2N 5DU"}
        )

        old = await client.post(
            "/members/me/address/confirmation", json={"code": first["code"]}, headers=headers
        )
        new = await client.post(
            "/members/me/address/confirmation", json={"code": second["code"]}, headers=headers
        )

        if first["code"] != second["code"]:
            assert old.status_code == 400
        assert new.status_code == 200
        assert new.json()["ward_code"] == "E05013806"

    async def test_letters_are_limited_per_member(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)
        for _ in range(settings.address_letters_per_30_days):
            await letter_for(client, sessions, member_id, headers)

        response = await client.post("/members/me/address/letter", json=HOME, headers=headers)

        assert response.status_code == 429
        assert response.json()["type"].endswith("/letter-limit")
        letters = await staged_for_member(sessions, AddressLetterRequested.event_type, member_id)
        assert len(letters) == settings.address_letters_per_30_days


class TestAddressRefused:
    @pytest.mark.parametrize(
        ("postcode", "status", "problem"),
        [
            ("GU1 1AA", 422, "address-refused"),
            ("N1 9ZZ", 422, "address-refused"),
            ("XYZ 123", 422, "invalid-postcode"),
        ],
    )
    async def test_only_known_london_postcodes(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        postcode: str,
        status: int,
        problem: str,
    ) -> None:
        member_id, headers = await signed_in_member(client, sessions, settings)

        response = await client.post(
            "/members/me/address/letter", json={**HOME, "postcode": postcode}, headers=headers
        )

        assert response.status_code == status
        assert response.json()["type"].endswith(f"/{problem}")
        assert not await staged_for_member(sessions, AddressLetterRequested.event_type, member_id)

    @pytest.mark.parametrize(
        "address",
        [
            {**HOME, "name": "x" * 101},
            {**HOME, "address_lines": []},
            {**HOME, "address_lines": ["a", "b", "c", "d", "e"]},
            {**HOME, "address_lines": ["y" * 101]},
            {**HOME, "address_lines": ["10 Mansell Street\nLondon"]},
            {**HOME, "name": "Sam\u0000Taylor"},
            {**HOME, "extra": "field"},
        ],
    )
    async def test_lengths_are_limited(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        address: dict[str, Any],
    ) -> None:
        _, headers = await signed_in_member(client, sessions, settings)

        response = await client.post("/members/me/address/letter", json=address, headers=headers)

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
