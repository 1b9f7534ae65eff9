"""Geo's side of the targeting contract: what it cannot resolve in a published alert never
costs the alert its other parts. Through the running app's geo.audience consumer: the usable
parts are delivered, the others reported to alerts (``audience.resolved``) and counted, and a
retry resolves the alert afresh. The preview refuses the same targets, naming the field."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.demo import DEMO_WARD_CODES
from services.geo.models import AlertAudience, OutboxMessage
from services.geo.targeting.contract import usable_parts
from shared.db import session_scope
from shared.events import (
    AlertPublished,
    AudienceResolved,
    EventEnvelope,
    TargetCircle,
    TargetingRetryRequested,
    TargetPolygon,
)
from tests.geo.factories import PROBLEM_JSON, alert_published, bow_tie, subscribe
from tests.support.tokens import auth_header
from tests.support.waiting import eventually

DEMO_WARD = DEMO_WARD_CODES[0]
# Near Trafalgar Square, in the demo borough.
CENTRE = (51.508, -0.128)
METRIC = "tawny_geo_target_parts_unusable_total"


async def send(producer: AIOKafkaProducer, payload: AlertPublished) -> uuid.UUID:
    envelope = EventEnvelope.wrap(payload, producer="alerts")
    await producer.send_and_wait(
        payload.topic.value,
        envelope.model_dump_json().encode(),
        key=payload.partition_key().encode(),
    )
    return envelope.event_id


async def staged(
    sessions: async_sessionmaker[AsyncSession], event_id: uuid.UUID, alert_id: uuid.UUID
) -> tuple[AudienceResolved, list[str]]:
    """Geo's report on one event, and the members of the batches staged for the alert."""

    async def audience_and_rows() -> tuple[AlertAudience, list[Any]] | None:
        async with sessions() as session:
            audience = await session.scalar(
                select(AlertAudience).where(AlertAudience.event_id == event_id)
            )
            rows = (
                await session.scalars(
                    select(OutboxMessage.envelope).order_by(OutboxMessage.position)
                )
            ).all()
        return (audience, list(rows)) if audience is not None else None

    _audience, rows = await eventually(audience_and_rows)
    reports = [
        AudienceResolved.model_validate(e["payload"])
        for e in rows
        if e["type"] == AudienceResolved.event_type and e["payload"]["event_id"] == str(event_id)
    ]
    members = [
        m
        for e in rows
        if e["type"] == "recipients.batch" and e["payload"]["content"]["alert_id"] == str(alert_id)
        for m in e["payload"]["member_ids"]
    ]
    (report,) = reports
    return report, members


def unusable(reason: str) -> float:
    return REGISTRY.get_sample_value(METRIC, {"reason": reason}) or 0.0


class TestPartialFailure:
    async def test_usable_parts_are_delivered_the_rest_reported_and_a_retry_resolves_again(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        watcher = uuid.uuid4()
        async with session_scope(sessions) as session:
            await subscribe(session, watcher, DEMO_WARD)
        # As if alerts had let through what the contract refuses (a bug), with a ward the
        # current boundary set does not have (it changed after publishing).
        alert = alert_published([DEMO_WARD, "E05000000"]).model_copy(
            update={
                "target_circles": [TargetCircle(lat=CENTRE[0], lon=CENTRE[1], radius_m=50)],
                "target_polygons": [TargetPolygon(coordinates=bow_tie()["coordinates"])],
            }
        )
        alert_id = alert.content.alert_id
        radius_before = unusable("radius-out-of-range")

        report, members = await staged(sessions, await send(producer, alert), alert_id)

        # Other tests' members may watch the demo ward too: this one must be among them, once.
        assert str(watcher) in members
        assert len(members) == len(set(members)) == report.recipients
        assert report.alert_id == alert_id
        first_round = members
        assert [(f.field, f.reason) for f in report.failures] == [
            ("target_ward_codes[1]", "unknown-ward"),
            ("target_circles[0].radius_km", "radius-out-of-range"),
            ("target_polygons[0]", "self-intersection"),
        ]
        assert unusable("radius-out-of-range") == radius_before + 1

        # Fixed (the alert's target as alerts now holds it), retried: resolved afresh.
        fixed = alert.model_dump()
        fixed.update(target_ward_codes=[DEMO_WARD], target_circles=[], target_polygons=[])
        retry = TargetingRetryRequested.model_validate(fixed)

        report, members = await staged(sessions, await send(producer, retry), alert_id)

        assert report.failures == []
        assert report.recipients == len(first_round)
        # Staged again for the same members: dispatch's one delivery per alert, member and
        # channel keeps them from hearing it twice.
        assert sorted(members) == sorted(first_round * 2)


class TestUsableParts:
    def test_without_boundaries_codes_pass_and_shapes_are_still_checked(self) -> None:
        alert = alert_published(["E05000000"]).model_copy(
            update={
                "target_circles": [
                    TargetCircle(lat=CENTRE[0], lon=CENTRE[1], radius_m=10_000),
                    TargetCircle(lat=CENTRE[1], lon=CENTRE[0], radius_m=1_000),
                ]
            }
        )

        checked = usable_parts(alert, None)

        assert [c.radius_m for c in checked.alert.target_circles] == [10_000]
        assert [(p.part, p.reason) for p in checked.problems] == [
            ("target_circles[1]", "outside-london")
        ]
        assert checked.alert.target_ward_codes == ["E05000000"]


class TestPreview:
    @pytest.mark.parametrize(
        ("target", "field"),
        [
            (
                {"circles": [{"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 50}]},
                "circles[0].radius_m",
            ),
            ({"polygons": [bow_tie()]}, "polygons[0]"),
            (
                {"circles": [{"lat": CENTRE[1], "lon": CENTRE[0], "radius_m": 500}]},
                "circles[0]",
            ),
        ],
    )
    async def test_refused_naming_the_field(
        self, client: httpx.AsyncClient, target: dict[str, Any], field: str
    ) -> None:
        response = await client.post(
            "/audience/preview", json={"target": target}, headers=auth_header(roles=["officer"])
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["field"] == field

    async def test_a_10_km_circle_is_previewed(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/audience/preview",
            json={
                "target": {
                    "ward_codes": [DEMO_WARD],
                    "circles": [{"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 10_000}],
                }
            },
            headers=auth_header(roles=["officer"]),
        )

        assert response.status_code == 200, response.text
        assert {w["code"] for w in response.json()["wards"]} >= set(DEMO_WARD_CODES)
