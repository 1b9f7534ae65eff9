"""Export and erasure across the platform. A member who registered, verified an address,
watched a ward, set preferences, added a phone and two devices, received an alert on every
channel, replied with a photo and marked the alert useful downloads their data (every
service's part is there) and then erases their account. Then no table of any service's
database holds their email, name, phone, address or pseudonym, and their member id is left only
where identity keeps it on purpose (the append-only audit log, and the ``member.erased`` event
in its outbox). In the broker, only the topics that name members hold any of it, and those keep
records no longer than ``PERSONAL_DATA_RETENTION`` (Kafka deletes no single record)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from PIL import Image
from sqlalchemy import text

from deploy.devstack import DATABASE_SERVICES, DEMO_OFFICER, SHARED_LONDON_DATA, DevStack
from shared.db import build_engine
from shared.events import PERSONAL_DATA_RETENTION, AddressLetterRequested, Topic
from shared.kafka import namespaced
from tests.e2e.test_alert_path import bearer, eventually, log_in, sign_up_and_verify, two_wards
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
SEVERITIES = ("Minor", "Moderate", "Severe", "Extreme")


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


# A member id as it appears packed in a bytea: 32 hex digits, no dashes.
PACKED_ID = re.compile("[0-9a-f]{32}", re.IGNORECASE)


def needle_patterns(needles: list[str]) -> list[str]:
    """Case-insensitive patterns (PostgreSQL's and Python's alike) for each needle, not
    followed by a digit: "Neighbour 1234" must not match another member's "Neighbour 12345".
    Except a member id's 32 hex digits: packed among others in a bytea (a recipient set), the
    next member's id follows it directly, and its first hex digit is a digit ten times in 16."""
    return [
        re.escape(needle) + ("" if PACKED_ID.fullmatch(needle) else "(?![0-9])")
        for needle in needles
    ]


async def rows_mentioning(platform: DevStack, needles: list[str]) -> dict[tuple[str, str], int]:
    """(service, table) -> rows whose text form contains any of ``needles``, in every table
    of every service's database (bytea shows as hex, so a packed id is found by its hex)."""
    found: dict[tuple[str, str], int] = {}
    patterns = needle_patterns(needles)
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
                            "WHERE t::text ~* ANY(:patterns)"
                        ),
                        {"patterns": patterns},
                    )
                    if count:
                        found[(service, table)] = count
        finally:
            await engine.dispose()
    return found


async def records_mentioning(platform: DevStack, needles: list[str]) -> dict[str, int]:
    """Registered topic -> records (key or value) that contain any of ``needles``, reading
    every partition of every topic of the platform from the start to its end now."""
    namespace = platform.options.kafka_namespace
    names = {namespaced(topic.value, namespace): topic.value for topic in Topic}
    patterns = [re.compile(p, re.IGNORECASE) for p in needle_patterns(needles)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=platform.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    found: dict[str, int] = {}
    try:
        await consumer.topics()  # fetches the cluster's metadata
        partitions = [
            TopicPartition(name, partition)
            for name in names
            for partition in consumer.partitions_for_topic(name) or ()
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        async with asyncio.timeout(DEFAULT_TIMEOUT_S):
            while left:
                for tp, records in (await consumer.getmany(*left, timeout_ms=500)).items():
                    for record in records:
                        raw = (record.key or b"") + b" " + (record.value or b"")
                        content = raw.decode("utf-8", errors="replace")
                        if any(pattern.search(content) for pattern in patterns):
                            topic = names[tp.topic]
                            found[topic] = found.get(topic, 0) + 1
                    if await consumer.position(tp) >= ends[tp]:
                        left.discard(tp)
    finally:
        await consumer.stop()
    return found


async def retention_ms(platform: DevStack, topic: Topic) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.kafka_bootstrap_servers)
    await admin.start()
    try:
        name = namespaced(topic.value, platform.options.kafka_namespace)
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        for resource in response.resources:
            for entry in resource[4]:
                if entry[0] == "retention.ms":
                    return int(entry[1])
        raise AssertionError(f"{name} has no retention.ms")
    finally:
        await admin.close()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 200)).save(out, format="JPEG")
    return out.getvalue()


async def from_sink(base_url: str, path: str, **params: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=PLATFORM_CLIENT_TIMEOUT_S) as sink:
        response = await sink.get(path, params=params)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


class TestErasureEverywhere:
    async def test_no_personal_data_of_an_erased_member_remains_anywhere(
        self, platform: DevStack, gateway: httpx.AsyncClient, mailbox: httpx.AsyncClient
    ) -> None:
        run = uuid.uuid4().hex[:10]
        email, password = f"erased-{run}@example.org", "correct horse battery"
        name, phone, street = f"Robin Erased{run}", "020 7946 0123", f"{run} Horse Guards Road"
        mobile = f"+4477009{int(run[:5], 16) % 100000:05d}"
        notify_url = f"http://127.0.0.1:{platform.ports.notify}"
        fcm_url = f"http://127.0.0.1:{platform.ports.fcm}"
        token = await sign_up_and_verify(gateway, mailbox, email, password)
        headers = bearer(token)
        me = (await gateway.get("/api/identity/members/me", headers=headers)).json()
        member_id, pseudonym = me["member_id"], me["pseudonym"]
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
        # Replies need the verified address in the token's vl claim.
        headers = bearer(await log_in(gateway, email, password))

        async def geo_has_the_home_ward() -> bool:
            response = await gateway.get("/api/geo/subscriptions", headers=headers)
            return response.status_code == 200 and any(
                subscription["kind"] == "home" for subscription in response.json()
            )

        await eventually(geo_has_the_home_ward)
        ward, _other = await two_wards(gateway)
        watched = await gateway.post(
            "/api/geo/subscriptions", json={"ward_code": ward}, headers=headers
        )
        assert watched.status_code == 201, watched.text
        every_channel = ["email", "webpush", "fcm", "sms"]
        preferences = await gateway.put(
            "/api/dispatch/preferences/me",
            json={"channels": dict.fromkeys(SEVERITIES, every_channel)},
            headers=headers,
        )
        assert preferences.status_code == 200, preferences.text
        # A phone, confirmed with the texted code; two devices: a browser and an app.
        asked = await gateway.put(
            "/api/dispatch/endpoints/me/sms", json={"phone_number": mobile}, headers=headers
        )
        assert asked.status_code == 202, asked.text

        async def texted_code() -> str | None:
            for sent in await from_sink(notify_url, "/notifications", phone_number=mobile):
                found = re.search(r"\b\d{6}\b", " ".join(sent["personalisation"].values()))
                if found:
                    return found.group(0)
            return None

        sms = await gateway.post(
            "/api/dispatch/endpoints/me/sms/confirmation",
            json={"code": await eventually(texted_code)},
            headers=headers,
        )
        assert sms.status_code == 200, sms.text
        fcm_token = f"e2e-erasure-{run}:APA91b-{uuid.uuid4().hex}"
        app = await gateway.put(
            "/api/dispatch/endpoints/me/fcm", json={"token": fcm_token}, headers=headers
        )
        assert app.status_code == 200, app.text
        key = (await gateway.get("/api/dispatch/webpush/vapid-public-key")).json()
        async with httpx.AsyncClient(
            base_url=platform.webpush_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as push_service:
            browser = await push_service.post(
                "/subscriptions", json={"application_server_key": key["application_server_key"]}
            )
        subscription = browser.json()
        pushed = await gateway.put(
            "/api/dispatch/endpoints/me/webpush", json=subscription, headers=headers
        )
        assert pushed.status_code == 200, pushed.text

        officer = bearer(await log_in(gateway, *DEMO_OFFICER))
        headline = f"Catalytic converters stolen ({run})"
        created = await gateway.post(
            "/api/alerts/alerts",
            json={
                "headline": headline,
                "body": "Park in lit areas where you can.",
                "crime_type": "theft_from_motor_vehicle",
                "severity": "Moderate",
                "urgency": "Expected",
                "target_ward_codes": [ward],
                "no_victim_details_confirmed": True,
            },
            headers=officer,
        )
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        published = await gateway.post(f"/api/alerts/alerts/{alert_id}/publish", headers=officer)
        assert published.status_code == 200, published.text

        subscription_id = subscription["endpoint"].rsplit("/", 1)[1]

        async def reached_on_every_channel() -> bool:
            mails = await from_sink(platform.smtp_sink_url, "/messages", to=email)
            texts = await from_sink(notify_url, "/notifications", phone_number=mobile)
            return (
                any(headline in mail["subject"] for mail in mails)
                and bool(
                    await from_sink(
                        platform.webpush_sink_url, "/messages", subscription=subscription_id
                    )
                )
                and bool(await from_sink(fcm_url, "/messages", token=fcm_token))
                and any(headline in " ".join(t["personalisation"].values()) for t in texts)
            )

        await eventually(reached_on_every_channel)
        reply = await gateway.post(
            f"/api/alerts/alerts/{alert_id}/replies",
            json={"text": f"My neighbour {name} saw two men at {street}."},
            headers=headers,
        )
        assert reply.status_code == 201, reply.text
        photo = await gateway.post(
            f"/api/alerts/alerts/{alert_id}/replies/{reply.json()['id']}/photo",
            files={"file": ("van.jpg", jpeg(), "image/jpeg")},
            headers=headers,
        )
        assert photo.status_code == 204, photo.text
        marked = await gateway.put(
            f"/api/alerts/alerts/{alert_id}/usefulness", json={"useful": True}, headers=headers
        )
        assert marked.status_code == 204, marked.text

        # The export: identity's part at once, every other service's a moment later.
        export = await gateway.get("/api/identity/members/me/export", headers=headers)
        assert export.status_code == 200, export.text
        export_id = export.json()["export_id"]
        assert export.json()["member"]["name"] == name

        async def part(service: str) -> dict[str, Any] | None:
            response = await gateway.get(
                f"/api/{service}/members/me/exports/{export_id}", headers=headers
            )
            found: dict[str, Any] | None = response.json() if response.status_code == 200 else None
            return found

        alerts_part = await eventually(lambda: part("alerts"))
        assert [r["alert_id"] for r in alerts_part["data"]["replies"]] == [alert_id]
        assert [m["useful"] for m in alerts_part["data"]["usefulness_marks"]] == [True]
        geo_part = await eventually(lambda: part("geo"))
        assert ward in [s["ward_code"] for s in geo_part["data"]["subscriptions"]]
        dispatch_part = await eventually(lambda: part("dispatch"))
        assert {d["channel"] for d in dispatch_part["data"]["deliveries"]} == set(every_channel)
        assert {e["channel"] for e in dispatch_part["data"]["endpoints"]} == set(every_channel)

        personal = [email, name, phone, mobile, street, pseudonym]
        member = [member_id, member_id.replace("-", "")]
        before = await rows_mentioning(platform, personal + member)
        for table in (
            ("identity", "members"),
            ("dispatch", "member_endpoints"),
            ("dispatch", "deliveries"),
            ("dispatch", "member_preferences"),
            ("geo", "subscriptions"),
            ("geo", "alert_recipient_sets"),
            ("alerts", "alert_replies"),
            ("alerts", "alert_usefulness"),
        ):
            assert table in before, (table, before)

        erased = await gateway.post(
            "/api/identity/members/me/erasure", json={"password": password}, headers=headers
        )
        assert erased.status_code == 204, erased.text

        async def personal_data_gone() -> bool:
            return not await rows_mentioning(platform, personal)

        async def member_id_only_where_kept() -> bool:
            return set(await rows_mentioning(platform, member)) <= KEPT_MEMBER_ID

        try:
            await eventually(personal_data_gone)
            await eventually(member_id_only_where_kept)
        except AssertionError:
            left = await rows_mentioning(platform, personal + member)
            pytest.fail(f"left after erasure (service, table): rows: {left}")
        stats = await gateway.get(f"/api/alerts/alerts/{alert_id}/stats", headers=officer)
        assert (stats.json()["useful"], stats.json()["replies"]) == (1, 0)

        in_the_broker = await records_mentioning(platform, personal + member)
        assert set(in_the_broker) <= {topic.value for topic in PERSONAL_DATA_RETENTION}, (
            in_the_broker
        )
        for topic, retention in PERSONAL_DATA_RETENTION.items():
            assert await retention_ms(platform, topic) <= retention.total_seconds() * 1000
