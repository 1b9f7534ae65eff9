"""One way to build a service's FastAPI app, so that all five look and behave alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from shared import idempotency
from shared.consumer import ProcessedEventMixin
from shared.logs import configure_logging
from shared.outbox import OutboxMixin
from shared.runtime import ConsumerSpec, ServiceRuntime
from shared.settings import ServiceSettings
from shared.tracing import instrument_app
from shared.web import install_common, set_readiness_checks

StartupHook = Callable[[FastAPI, ServiceRuntime], Awaitable[None]]
# The version of every service's HTTP API, published in its OpenAPI document and under
# docs/api/v<major>/ (deploy/openapi_documents.py). A minor for each compatible addition; a
# new major (and folder) for anything a client would have to change for.
API_VERSION = "1.1.0"


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    outbox_model: type[OutboxMixin] | None = None,
    processed_model: type[ProcessedEventMixin] | None = None,
    consumers: tuple[ConsumerSpec, ...] = (),
    on_startup: StartupHook | None = None,
    idempotency_model: type[idempotency.IdempotencyKeyMixin] | None = None,
) -> FastAPI:
    """``idempotency_model``: the service's ``idempotency_keys`` table; with it, every POST
    of ``routers`` that answers 201 honours ``Idempotency-Key`` (``shared.idempotency``)."""
    configure_logging(name, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime.start(
            name,
            settings,
            outbox_model=outbox_model,
            processed_model=processed_model,
            consumers=consumers,
        ) as runtime:
            app.state.runtime = runtime
            app.state.settings = settings
            app.state.jwks_verifier = runtime.verifier
            set_readiness_checks(app, runtime.readiness_checks())
            if on_startup is not None:
                await on_startup(app, runtime)
            yield

    app = FastAPI(title=title, description=description, version=API_VERSION, lifespan=lifespan)
    install_common(app, max_in_flight=settings.max_in_flight_requests)
    instrument_app(app, name, settings)
    dependencies = []
    if idempotency_model is not None:
        dependencies.append(idempotency.guard(idempotency_model))

        def sessions() -> object:
            runtime = getattr(app.state, "runtime", None)
            return None if runtime is None else runtime.sessions

        idempotency.install_idempotency(app, idempotency_model, sessions)  # type: ignore[arg-type]
    for router in routers:
        app.include_router(router, dependencies=dependencies)
    return app
