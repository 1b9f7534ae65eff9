"""The identity service: members, email verification, sign-in and the keys that sign tokens.

uvicorn services.identity.app:create_app --factory
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI

from services.identity import maintenance
from services.identity.accounts.endpoints import router as accounts_router
from services.identity.audit.endpoints import router as audit_router
from services.identity.audit.retention import purge_expired_audit
from services.identity.clients.endpoints import router as clients_router
from services.identity.config import IdentitySettings
from services.identity.coordinators.endpoints import router as coordinators_router
from services.identity.members.endpoints import router as members_router
from services.identity.members.service import MemberService
from services.identity.models import IdempotencyKey, OutboxMessage, Role
from services.identity.organisations.endpoints import router as organisations_router
from services.identity.organisations.repository import OrganisationRepository
from services.identity.organisations.service import OrganisationService
from services.identity.passwords import warm_up
from services.identity.reveals.endpoints import router as reveals_router
from services.identity.rights.endpoints import router as rights_router
from services.identity.staff.endpoints import router as staff_router
from services.identity.tokens.endpoints import router as tokens_router
from services.identity.tokens.service import SigningKeyService
from services.identity.verification.endpoints import router as verification_router
from shared.app import create_service_app
from shared.auth import JWKSVerifier
from shared.db import session_scope, utcnow
from shared.geocoding import build_geocoder
from shared.logs import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

SELF_BASE_URL = "http://identity"
JWKS_PATH = "/.well-known/jwks.json"


def _seeds(settings: IdentitySettings) -> list[tuple[str, str, list[str]]]:
    candidates = [
        (settings.seed_officer_email, settings.seed_officer_password, [Role.OFFICER]),
        (
            settings.seed_admin_email,
            settings.seed_admin_password,
            [Role.PLATFORM_ADMIN, Role.OFFICER],
        ),
        (settings.seed_resident_email, settings.seed_resident_password, [Role.RESIDENT]),
    ]
    return [
        (email, password.get_secret_value(), [role.value for role in roles])
        for email, password, roles in candidates
        if email is not None and password is not None
    ]


async def _seed_borough_commands(runtime: ServiceRuntime, settings: IdentitySettings) -> None:
    path = settings.wards_csv()
    if path is None:
        return
    async with session_scope(runtime.sessions) as session:
        await OrganisationService(session).seed_borough_commands(path)


async def _seed_members(runtime: ServiceRuntime, settings: IdentitySettings) -> None:
    for email, password, roles in _seeds(settings):
        async with session_scope(runtime.sessions) as session:
            organisation_id = None
            if Role.OFFICER.value in roles and settings.seed_officer_borough_code:
                command = await OrganisationRepository(session).get_by_code(
                    settings.seed_officer_borough_code
                )
                organisation_id = command.id if command else None
            await MemberService(session, settings).seed(
                email,
                password,
                roles,
                organisation_id=organisation_id,
                totp_exempt=settings.seeded_members_skip_totp,
            )


def own_tokens_verifier(app: FastAPI, settings: IdentitySettings) -> JWKSVerifier:
    """Identity checks its own tokens against its own JWKS endpoint, called in-process.

    The client holds no connections (ASGITransport), so it needs no closing at shutdown. A kid
    it does not know is looked up at once (no minimum interval): the lookup is one local query,
    and identity must accept its own new key from the first token it signs.
    """
    return JWKSVerifier(
        f"{SELF_BASE_URL}{JWKS_PATH}",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        min_refresh_s=0.0,
        max_lifetime_s=settings.jwt_max_lifetime_s,
        http=httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=SELF_BASE_URL, timeout=5.0
        ),
    )


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()

    async def on_startup(app: FastAPI, runtime: ServiceRuntime) -> None:
        async with session_scope(runtime.sessions) as session:
            kid = await SigningKeyService(session, settings).ensure_active_key()
        log.info("identity.signing_key.ready", kid=kid)
        await _seed_borough_commands(runtime, settings)
        await _seed_members(runtime, settings)
        await warm_up()
        app.state.jwks_verifier = own_tokens_verifier(app, settings)
        app.state.geocoder = build_geocoder(
            settings.geocoder,
            csv_path=settings.postcodes_csv_path,
            api_url=settings.postcodes_api_url,
            timeout_s=settings.geocoder_timeout_s,
        )
        # In runtime.tasks, so it is cancelled at shutdown and shows in readiness.
        runtime.run_every(
            settings.maintenance_interval_s,
            partial(maintenance.run_once, runtime, settings),
            name="identity-maintenance",
        )

        async def purge_audit() -> None:
            retention = timedelta(days=settings.audit_retention_days)
            await purge_expired_audit(runtime.sessions, written_before=utcnow() - retention)

        runtime.run_every(
            settings.audit_retention_interval_s, purge_audit, name="identity-audit-retention"
        )

    app = create_service_app(
        name="identity",
        title="Tawny identity",
        description=(
            "Members register with an email address, verify it, and sign in for short-lived "
            "access tokens signed with Ed25519 (other services verify them with the JWKS) and "
            "rotating refresh tokens. Staff roles need TOTP; organisations carry ward areas; "
            "staff actions are written to a hash-chained audit log. Addresses are verified by "
            "letter or proof, identities by a verifier's document check; coordinators are "
            "police-vetted; revealing who a member is takes two staff members."
        ),
        settings=settings,
        routers=[
            members_router,
            tokens_router,
            accounts_router,
            organisations_router,
            staff_router,
            audit_router,
            clients_router,
            rights_router,
            verification_router,
            coordinators_router,
            reveals_router,
        ],
        outbox_model=OutboxMessage,
        on_startup=on_startup,
        idempotency_model=IdempotencyKey,
    )
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app):
            try:
                yield
            finally:
                geocoder = getattr(app.state, "geocoder", None)
                if geocoder is not None:
                    await geocoder.aclose()

    app.router.lifespan_context = lifespan
    return app
