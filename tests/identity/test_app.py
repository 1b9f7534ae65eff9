"""The service as a whole: startup seeding, the outbox relay, the migrations and the OpenAPI."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.app import create_app
from services.identity.config import IdentitySettings
from services.identity.models import Member, OutboxMessage
from shared import migrations
from shared.events import Topic, VerificationEmailRequested
from tests.identity.conftest import identity_settings
from tests.identity.factories import (
    email_index,
    register,
    sign_in,
    staged_events,
    unique_email,
    verified_events,
)
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import topic_reader
from tests.support.waiting import eventually


class TestSeeding:
    async def test_two_startups_seed_each_member_once(
        self,
        infrastructure: Infrastructure,
        database_url: str,
        kafka_namespace: str,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        officer, admin, resident = unique_email("officer"), unique_email("admin"), unique_email()
        settings = identity_settings(
            infrastructure,
            database_url,
            kafka_namespace=kafka_namespace,
            seed_officer_email=officer,
            seed_officer_password="officer passphrase",
            seed_admin_email=admin,
            seed_admin_password="admin passphrase",
            seed_resident_email=resident,
            seed_resident_password="resident passphrase",
        )
        first, second = create_app(settings), create_app(settings)

        # The second replica starts while the first is still running.
        async with (
            first.router.lifespan_context(first),
            second.router.lifespan_context(second),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=second), base_url="http://test"
            ) as client,
        ):
            token = await sign_in(client, officer, "officer passphrase")

        assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["officer"]
        expected_roles = {
            officer: ["officer"],
            admin: ["platform_admin", "officer"],
            resident: ["resident"],
        }
        async with sessions() as session:
            members = (
                await session.scalars(
                    select(Member).where(Member.email_index.in_(map(email_index, expected_roles)))
                )
            ).all()
        by_index = {email_index(email): roles for email, roles in expected_roles.items()}
        assert {member.email_index: member.roles for member in members} == by_index
        # Seeded in a test environment: staff sign in without TOTP.
        assert all(member.totp_exempt for member in members)
        assert all(member.email_verified for member in members)
        for email in expected_roles:
            assert len(await verified_events(sessions, email)) == 1


class TestOutboxRelay:
    async def test_registration_event_reaches_kafka(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        await register(client, email)
        [row] = await staged_events(sessions, VerificationEmailRequested.event_type, email)

        async def published_at() -> datetime | None:
            async with sessions() as session:
                return await session.scalar(
                    select(OutboxMessage.published_at).where(OutboxMessage.position == row.position)
                )

        await eventually(published_at)

        envelope = await read_event(settings, row.event_id, partition_key=row.key)
        assert envelope["type"] == VerificationEmailRequested.event_type
        assert envelope["producer"] == "identity"
        assert envelope["payload"]["email"] == email


async def read_event(
    settings: IdentitySettings, event_id: uuid.UUID, *, partition_key: str
) -> dict[str, Any]:
    """Find one event on the members topic, reading every partition from the start."""
    consumer = topic_reader(settings, Topic.MEMBERS.value)
    await consumer.start()

    async def the_event() -> dict[str, Any] | None:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                envelope: dict[str, Any] = json.loads(record.value or b"{}")
                if envelope.get("event_id") == str(event_id):
                    assert record.key == partition_key.encode()
                    return envelope
        return None

    try:
        return await eventually(the_event)
    finally:
        await consumer.stop()


class TestMigrations:
    def test_models_and_migrations_agree(self, database_url: str) -> None:
        migrations.check("identity", database_url)


class TestOpenApi:
    async def test_every_endpoint_documents_its_problems_and_examples(self, app: FastAPI) -> None:
        spec = app.openapi()
        ours = {
            ("post", "/members"),
            ("get", "/email-verifications/{token}"),
            ("post", "/email-verifications"),
            ("get", "/members/me"),
            ("post", "/tokens"),
            ("get", "/.well-known/jwks.json"),
        }
        for method, path in ours:
            operation = spec["paths"][path][method]
            assert operation["summary"]
            problems = [status for status in operation["responses"] if status >= "400"]
            assert problems, (method, path)
            body = operation.get("requestBody")
            if body is not None:
                assert body["content"]["application/json"]["examples"], (method, path)
