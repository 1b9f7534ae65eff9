"""Factories and readers for the alerts tests: plain functions, no shared state."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.authoring.schemas import AlertCreate
from services.alerts.authoring.service import AlertService
from services.alerts.config import AlertsSettings
from services.alerts.models import OutboxMessage
from shared.auth import Principal
from shared.events import Topic
from shared.settings import Environment, ServiceSettings
from tests.alerts.conftest import (
    TEST_BOROUGH_COUNT,
    TEST_BOROUGH_PREFIX,
    TEST_WARD_COUNT,
    TEST_WARD_PREFIX,
    WARDS_GEOJSON,
    wards_csv_with_test_wards,
)
from tests.support.kafka import topic_reader
from tests.support.tokens import auth_header


def officer_headers(
    member_id: uuid.UUID | None = None, pseudonym: str = "PC Tawny Owl", role: str = "officer"
) -> dict[str, str]:
    return auth_header(roles=[role], member_id=member_id or uuid.uuid4(), pseudonym=pseudonym)


_TEST_WARDS = itertools.count(random.randrange(TEST_WARD_COUNT // 2))


_TEST_BOROUGHS = itertools.count(random.randrange(TEST_BOROUGH_COUNT // 2))


def unique_borough_code() -> str:
    """A borough no other test of this session uses: one of the tests' own."""
    return f"{TEST_BOROUGH_PREFIX}{next(_TEST_BOROUGHS) % TEST_BOROUGH_COUNT:05d}"


def ward_of(borough: str) -> str:
    """The one ward of one of the tests' boroughs (conftest)."""
    return "B" + borough.removeprefix(TEST_BOROUGH_PREFIX).rjust(8, "0")


def unique_ward_code() -> str:
    """A ward no other test of this session uses: one of the tests' own (conftest)."""
    return f"{TEST_WARD_PREFIX}{next(_TEST_WARDS) % TEST_WARD_COUNT:08d}"


def alert_request(**overrides: Any) -> dict[str, Any]:
    """A valid create request with a unique headline; ``overrides`` replace or add fields."""
    body: dict[str, Any] = {
        "headline": f"Burglaries on Acacia Avenue {uuid.uuid4().hex[:8]}",
        "body": "Three homes were broken into overnight. Lock windows and doors.",
        "crime_type": "burglary",
        "target_ward_codes": [unique_ward_code()],
        "no_victim_details_confirmed": True,
    }
    body.update(overrides)
    return body


async def create_alert(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/alerts", json=alert_request(**overrides), headers=headers or officer_headers()
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def mapped_settings() -> AlertsSettings:
    """Settings with the real London ward map and boundaries."""
    return AlertsSettings(
        environment=Environment.TEST,
        sender_name="Tawny",
        wards_csv=wards_csv_with_test_wards(),
        wards_geojson=WARDS_GEOJSON,
    )


def officer(*boroughs: str) -> Principal:
    return Principal(
        member_id=uuid.uuid4(),
        pseudonym=f"PC {uuid.uuid4().hex[:4]}",
        roles=frozenset({"officer"}),
        area_borough_codes=boroughs,
    )


def coordinator(*wards: str) -> Principal:
    return Principal(
        member_id=uuid.uuid4(),
        pseudonym=f"Coordinator {uuid.uuid4().hex[:4]}",
        roles=frozenset({"coordinator"}),
        area_ward_codes=wards,
    )


def draft(**overrides: object) -> AlertCreate:
    fields: dict[str, object] = {
        "headline": f"Robbery near the station {uuid.uuid4().hex[:6]}",
        "body": "Two phones were snatched at 9pm.",
        "crime_type": "robbery",
        "no_victim_details_confirmed": True,
    }
    fields.update(overrides)
    return AlertCreate.model_validate(fields)


def service_for(session: AsyncSession) -> AlertService:
    return AlertService(session, settings=mapped_settings())


async def outbox_envelopes(
    sessions: async_sessionmaker[AsyncSession], alert_id: str
) -> list[dict[str, Any]]:
    """Every event the alerts service staged about one alert, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.envelope["payload"]["content"]["alert_id"].astext == alert_id)
            .order_by(OutboxMessage.position)
        )
        return [
            {**row.envelope, "_published_at": row.published_at, "_key": row.key} for row in rows
        ]


async def read_alert_events(
    settings: ServiceSettings, alert_id: str, *, timeout_s: float = 20.0
) -> list[dict[str, Any]]:
    """The envelopes about ``alert_id`` on the alerts topic, read from the start by a new group.

    Stops once something was found and a further poll brings nothing new about it."""
    consumer = topic_reader(settings, Topic.ALERTS.value)
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            new = [
                envelope
                for records in batches.values()
                for envelope in map(_envelope_or_none, (record.value for record in records))
                if envelope is not None and _alert_id_of(envelope) == alert_id
            ]
            if found and not new and not batches:
                break
            found.extend(new)
    finally:
        await consumer.stop()
    return found


def _envelope_or_none(value: bytes | None) -> dict[str, Any] | None:
    # Other tests share the topic, and some of what they write is deliberately not JSON.
    try:
        envelope = json.loads(value or b"")
    except ValueError:
        return None
    return envelope if isinstance(envelope, dict) else None


def _alert_id_of(envelope: dict[str, Any]) -> object:
    payload = envelope.get("payload")
    content = payload.get("content") if isinstance(payload, dict) else None
    return content.get("alert_id") if isinstance(content, dict) else None
