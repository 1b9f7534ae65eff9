"""The migrations build exactly what the models describe, and the several-devices migration
keeps the endpoints and deliveries it finds."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import text

from services.dispatch.models import ChannelKind, device_key
from shared import migrations
from shared.db import build_engine
from tests.support.infrastructure import Infrastructure

BEFORE_DEVICES = "d4e6f8a0b2c4"
SENT_AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_models_and_migrations_have_not_drifted(database_url: str) -> None:
    migrations.check("dispatch", database_url)


async def _execute(url: str, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    engine = build_engine(url, application_name="dispatch-migration-tests", pool_size=1)
    try:
        found: list[Any] = []
        async with engine.begin() as connection:
            for sql, params in statements:
                result = await connection.execute(text(sql), params)
                if result.returns_rows:
                    found.append(result.all())
        return found
    finally:
        await engine.dispose()


def test_several_devices_keeps_endpoints_and_deliveries(infrastructure: Infrastructure) -> None:
    url = infrastructure.fresh_database("dispatch")
    config = migrations.alembic_config("dispatch", url)
    command.downgrade(config, BEFORE_DEVICES)
    member, alert = uuid.uuid4(), uuid.uuid4()
    push_url = "https://push.example.org/wpush/abc"
    subscription = json.dumps({"endpoint": push_url, "keys": {"p256dh": "k", "auth": "a"}})
    insert_endpoint = (
        "INSERT INTO member_endpoints (member_id, channel, address, verified_at) "
        "VALUES (:member, :channel, :address, now())"
    )
    insert_delivery = (
        "INSERT INTO deliveries (id, alert_id, member_id, channel, status, sent_at) "
        "VALUES (:id, :alert, :member, :channel, :status, :sent)"
    )
    asyncio.run(
        _execute(
            url,
            [
                (insert_endpoint, {"member": member, "channel": "email", "address": "a@b.org"}),
                (
                    insert_endpoint,
                    {"member": member, "channel": "webpush", "address": subscription},
                ),
                *(
                    (
                        insert_delivery,
                        {
                            "id": uuid.uuid4(),
                            "alert": alert,
                            "member": member,
                            "channel": channel,
                            "status": "sent",
                            "sent": SENT_AT,
                        },
                    )
                    for channel in ("email", "webpush")
                ),
            ],
        )
    )

    migrations.upgrade("dispatch", url)

    [endpoints, deliveries] = asyncio.run(
        _execute(
            url,
            [
                ("SELECT id, channel, device_key, address FROM member_endpoints", {}),
                ("SELECT channel, endpoint_id FROM deliveries", {}),
            ],
        )
    )
    by_channel = {channel: (id_, key, address) for id_, channel, key, address in endpoints}
    assert by_channel["email"][1:] == ("", "a@b.org")
    assert by_channel["webpush"][1:] == (device_key(ChannelKind.WEBPUSH, push_url), subscription)
    assert {channel: endpoint_id for channel, endpoint_id in deliveries} == {
        channel: id_ for channel, (id_, _key, _address) in by_channel.items()
    }
    # Undone and redone.
    command.downgrade(config, BEFORE_DEVICES)
    migrations.upgrade("dispatch", url)
    migrations.check("dispatch", url)
