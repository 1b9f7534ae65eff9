"""Dispatch in-process with its lifespan (tests/support/harness.py), on a database built by its
own migrations, the session's Kafka, and in-process provider sinks on free ports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.fcm import FcmSink, new_service_account
from deploy.sinks.notify import NotifySink
from deploy.sinks.smtp import SmtpSink
from deploy.sinks.webpush import WebPushSink
from services.dispatch.app import create_app
from services.dispatch.channels.email import EmailChannel
from services.dispatch.channels.webpush import WebPushChannel
from services.dispatch.config import DispatchSettings
from shared.db import build_engine, build_sessionmaker
from shared.settings import Environment

# The shared fixtures, bound to this directory: pytest caches a session fixture once per
# definition, so one definition in the plugin alone would hand every service after the first
# the first one's database, namespace and app when the suites run in one session.
from tests.support.harness import (
    app,
    client,
    database_url,
    engine,
    kafka_namespace,
    producer,
    session,
    sessions,
)
from tests.support.infrastructure import Infrastructure


@pytest.fixture(scope="session")
def service_name() -> str:
    return "dispatch"


@pytest.fixture(scope="session")
def quiet_database_url(infrastructure: Infrastructure) -> str:
    """A second database no running app works on: the worker tests drive the worker by hand."""
    return infrastructure.fresh_database("dispatch")


@pytest.fixture(scope="session")
async def quiet_sessions(
    quiet_database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = build_engine(quiet_database_url, application_name="dispatch-tests", pool_size=4)
    yield build_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def own_database_url(infrastructure: Infrastructure) -> str:
    """A database of the test's own: for a test that counts every row, or whose dispatcher
    processes must not meet another test's deliveries."""
    return infrastructure.fresh_database("dispatch")


@pytest.fixture
async def own_sessions(own_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = build_engine(own_database_url, application_name="dispatch-own-tests", pool_size=2)
    yield build_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def sink() -> AsyncIterator[SmtpSink]:
    """One sink for the session; tests tell their messages apart by unique addresses."""
    async with SmtpSink(smtp_port=0) as sink:
        yield sink


NOTIFY_API_KEY = (
    "tawny_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
)
NOTIFY_RECEIPT_TOKEN = "test-receipts-token"
FCM_PROJECT = "tawny-test"


@pytest.fixture(scope="session")
def fcm_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fcm") / "service-account.json"
    new_service_account(path, project_id=FCM_PROJECT)
    return path


@pytest.fixture(scope="session")
def fcm_service_account(fcm_key_file: Path) -> dict[str, str]:
    key: dict[str, str] = json.loads(fcm_key_file.read_text())
    return key


@pytest.fixture(scope="session")
async def fcm_sink(fcm_service_account: dict[str, str]) -> AsyncIterator[FcmSink]:
    async with FcmSink(service_account=fcm_service_account, project_id=FCM_PROJECT) as sink:
        yield sink


@pytest.fixture(scope="session")
async def notify_sink() -> AsyncIterator[NotifySink]:
    """The receipts URL is the in-process app's, which the sink can't reach: tests post the
    callbacks themselves (see tests/dispatch/receipts)."""
    async with NotifySink(api_key=NOTIFY_API_KEY) as sink:
        yield sink


@pytest.fixture(scope="session")
async def webpush_sink() -> AsyncIterator[WebPushSink]:
    """One push service for the session; tests make their own subscriptions."""
    async with WebPushSink(port=0) as sink:
        yield sink


@pytest.fixture(scope="session")
def settings(
    infrastructure: Infrastructure,
    database_url: str,
    kafka_namespace: str,
    sink: SmtpSink,
    fcm_sink: FcmSink,
    fcm_key_file: Path,
    notify_sink: NotifySink,
    webpush_sink: WebPushSink,
) -> DispatchSettings:
    return DispatchSettings(
        database_url=database_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_enable_idempotence=infrastructure.kafka_enable_idempotence,
        kafka_namespace=kafka_namespace,
        environment=Environment.TEST,
        smtp_host="127.0.0.1",
        smtp_port=sink.smtp_port,
        smtp_timeout_s=5,
        send_concurrency=4,
        log_json=False,
        database_pool_size=4,
        fcm_base_url=fcm_sink.url,
        fcm_token_url=fcm_sink.token_url,
        fcm_project_id=FCM_PROJECT,
        fcm_service_account_file=fcm_key_file,
        notify_base_url=notify_sink.url,
        notify_api_key=NOTIFY_API_KEY,
        notify_receipt_token=NOTIFY_RECEIPT_TOKEN,
        sms_code_resend_s=0,
        stats_interval_s=0.5,
        webpush_insecure_origins=webpush_sink.origin,
        webpush_timeout_s=5,
    )


@pytest.fixture(scope="session")
def service_app(settings: DispatchSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def email_channel(settings: DispatchSettings) -> EmailChannel:
    """The email channel as the app builds it, aimed at the sink."""
    return EmailChannel.from_settings(settings)


@pytest.fixture
async def webpush_channel(settings: DispatchSettings) -> AsyncIterator[WebPushChannel]:
    """The web push channel as the app builds it (the same VAPID key as the app's)."""
    channel = WebPushChannel.from_settings(settings)
    yield channel
    await channel.close()
