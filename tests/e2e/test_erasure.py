"""Erasure across the platform: after a member erases their account, no service's database
holds their email, name, phone or address, and their member id is left only where identity
keeps it on purpose (the append-only audit log, and the ``member.erased`` event itself)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from deploy.devstack import DATABASE_SERVICES, SHARED_LONDON_DATA, DevStack
from shared.db import build_engine
from shared.events import AddressLetterRequested, Topic
from shared.kafka import namespaced
from tests.e2e.test_alert_path import bearer, eventually, sign_up_and_verify
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S
from tests.support.waiting import DEFAULT_TIMEOUT_S

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (SHARED_LONDON_DATA / "postcodes.csv").is_file(),
        reason="identity's address lookup needs the London postcodes file",
    ),
]

# Where identity keeps a member id after erasure by design: neither holds personal data.
KEPT_MEMBER_ID = {("identity", "audit_log"), ("identity", "outbox")}


@pytest.fixture
async def gateway(platform: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as client:
        yield client


@pytest.fixture
async def mailbox(platform: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.smtp_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as client:
        yield client


async def letter_code(platform: DevStack, member_id: str) -> str:
    """The one-time code of the member's address letter, as dispatch receives it."""
    consumer = AIOKafkaConsumer(
        namespaced(Topic.MEMBERS.value, platform.options.kafka_namespace),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        group_id=f"e2e-reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT_S):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        envelope = json.loads(record.value)
                        if (
                            envelope["type"] == AddressLetterRequested.event_type
                            and envelope["payload"]["member_id"] == member_id
                        ):
                            code: str = envelope["payload"]["code"]
                            return code
    finally:
        await consumer.stop()


async def rows_mentioning(platform: DevStack, needles: list[str]) -> dict[tuple[str, str], int]:
    """(service, table) -> rows whose text form contains any of ``needles``, in every table
    of every service's database."""
    found: dict[tuple[str, str], int] = {}
    patterns = [f"%{needle}%" for needle in needles]
    for service in DATABASE_SERVICES:
        engine = build_engine(platform.database_urls[service], application_name="e2e-erasure")
        try:
            async with engine.connect() as connection:
                tables = (
                    await connection.scalars(
                        text(
                            "SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                        )
                    )
                ).all()
                for table in tables:
                    count = await connection.scalar(
                        text(
                            f'SELECT count(*) FROM "{table}" AS t '  # noqa: S608 (catalog names)
                            "WHERE t::text ILIKE ANY(:patterns)"
                        ),
                        {"patterns": patterns},
                    )
                    if count:
                        found[(service, table)] = count
        finally:
            await engine.dispose()
    return found


class TestErasureEverywhere:
    async def test_no_personal_data_of_an_erased_member_remains_in_any_database(
        self, platform: DevStack, gateway: httpx.AsyncClient, mailbox: httpx.AsyncClient
    ) -> None:
        run = uuid.uuid4().hex[:10]
        email, password = f"erased-{run}@example.org", "correct horse battery"
        name, phone, street = f"Robin Erased{run}", "020 7946 0123", f"{run} Horse Guards Road"
        token = await sign_up_and_verify(gateway, mailbox, email, password)
        headers = bearer(token)
        member_id = (await gateway.get("/api/identity/members/me", headers=headers)).json()[
            "member_id"
        ]
        details = await gateway.put(
            "/api/identity/members/me/personal-details",
            json={"name": name, "phone": phone},
            headers=headers,
        )
        assert details.status_code == 200, details.text
        letter = await gateway.post(
            "/api/identity/members/me/address/letter",
            json={"name": name, "address_lines": [street], "postcode": "SW1A 1AA"},
            headers=headers,
        )
        assert letter.status_code == 202, letter.text
        confirmed = await gateway.post(
            "/api/identity/members/me/address/confirmation",
            json={"code": await letter_code(platform, member_id)},
            headers=headers,
        )
        assert confirmed.status_code == 200, confirmed.text

        async def geo_has_the_home_ward() -> bool:
            response = await gateway.get("/api/geo/subscriptions", headers=headers)
            return response.status_code == 200 and any(
                subscription["kind"] == "home" for subscription in response.json()
            )

        await eventually(geo_has_the_home_ward)
        everything = [email, name, phone, street, member_id]
        before = await rows_mentioning(platform, everything)
        assert ("identity", "members") in before
        assert ("dispatch", "member_endpoints") in before
        assert ("geo", "subscriptions") in before

        erased = await gateway.post(
            "/api/identity/members/me/erasure", json={"password": password}, headers=headers
        )
        assert erased.status_code == 204, erased.text

        async def personal_data_gone() -> bool:
            return not await rows_mentioning(platform, [email, name, phone, street])

        async def member_id_only_where_kept() -> bool:
            return set(await rows_mentioning(platform, [member_id])) <= KEPT_MEMBER_ID

        try:
            await eventually(personal_data_gone)
            await eventually(member_id_only_where_kept)
        except AssertionError:
            left = await rows_mentioning(platform, everything)
            pytest.fail(f"left after erasure (service, table): rows: {left}")
