"""API clients of other police systems and their OAuth2 client-credentials tokens.
Flushes, never commits; every change is audited.

Platform admins manage every client; an organisation admin those of their own organisation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.service import AuditLog
from services.identity.clients.repository import ApiClientRepository
from services.identity.clients.schemas import ApiClientCreate
from services.identity.config import IdentitySettings
from services.identity.dependencies import Caller
from services.identity.errors import (
    ApiClientNotFoundError,
    InvalidClientError,
    InvalidScopeError,
    NotPermittedError,
)
from services.identity.models import ApiClient, OrganisationKind, Role
from services.identity.organisations.service import OrganisationService
from services.identity.tokens.service import SigningKeyService
from shared.auth import SIGNING_ALGORITHMS
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedClientToken:
    access_token: str
    expires_in: int
    scope: str


class ApiClientService:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._session = session
        self._settings = settings
        self._clients = ApiClientRepository(session)
        self._audit = AuditLog(session)

    def _check_organisation(self, caller: Caller, organisation_id: uuid.UUID) -> None:
        if caller.has_any_role(Role.PLATFORM_ADMIN):
            return
        if organisation_id != caller.member.organisation_id:
            raise NotPermittedError("You manage only your own organisation's API clients.")

    async def create(self, caller: Caller, body: ApiClientCreate) -> tuple[ApiClient, str]:
        self._check_organisation(caller, body.organisation_id)
        await OrganisationService(self._session).get(body.organisation_id)
        secret = secrets.token_urlsafe(32)
        client = await self._clients.add(
            ApiClient(
                name=body.name,
                organisation_id=body.organisation_id,
                scopes=sorted({scope.value for scope in body.scopes}),
                secret_hash=hash_secret(secret),
                created_by=caller.member.id,
            )
        )
        await self._audit.record(
            "api_client.created",
            actor_id=caller.member.id,
            subject=f"api_client:{client.id}",
            details={"organisation_id": str(client.organisation_id), "scopes": client.scopes},
        )
        return client, secret

    async def list(self, caller: Caller) -> Sequence[ApiClient]:
        if caller.has_any_role(Role.PLATFORM_ADMIN):
            return await self._clients.list(organisation_id=None)
        if caller.member.organisation_id is None:
            return []
        return await self._clients.list(organisation_id=caller.member.organisation_id)

    async def _managed(self, caller: Caller, client_id: uuid.UUID) -> ApiClient:
        client = await self._clients.get(client_id)
        if client is None:
            raise ApiClientNotFoundError()
        self._check_organisation(caller, client.organisation_id)
        return client

    async def rotate_secret(self, caller: Caller, client_id: uuid.UUID) -> tuple[ApiClient, str]:
        """A new secret, shown once; the old one stops working at once."""
        client = await self._managed(caller, client_id)
        secret = secrets.token_urlsafe(32)
        client.secret_hash = hash_secret(secret)
        client.secret_rotated_at = utcnow()
        await self._session.flush()
        await self._audit.record(
            "api_client.secret_rotated",
            actor_id=caller.member.id,
            subject=f"api_client:{client.id}",
        )
        return client, secret

    async def revoke(self, caller: Caller, client_id: uuid.UUID) -> None:
        client = await self._managed(caller, client_id)
        if client.revoked_at is None:
            client.revoked_at = utcnow()
            await self._session.flush()
            await self._audit.record(
                "api_client.revoked", actor_id=caller.member.id, subject=f"api_client:{client.id}"
            )

    async def issue(
        self, client_id: str, client_secret: str, requested_scope: str | None
    ) -> IssuedClientToken:
        """RFC 6749 4.4: one error for an unknown client, a wrong secret or a revoked client."""
        try:
            client = await self._clients.get(uuid.UUID(client_id))
        except ValueError:
            client = None
        presented = hash_secret(client_secret)
        if (
            client is None
            or client.revoked_at is not None
            or not hmac.compare_digest(presented, client.secret_hash)
        ):
            log.info("identity.client_token.refused", client_id=client_id[:64])
            raise InvalidClientError()
        scopes = set(client.scopes)
        if requested_scope:
            requested = set(requested_scope.split())
            if not requested <= scopes:
                raise InvalidScopeError()
            scopes = requested
        organisation = await OrganisationService(self._session).get(client.organisation_id)
        now = utcnow()
        await self._clients.touch(client.id, now)
        kid, private_key = await SigningKeyService(self._session, self._settings).signing_key()
        ttl = self._settings.access_token_ttl_s
        issued_at = int(time.time())
        scope = " ".join(sorted(scopes))
        claims: dict[str, object] = {
            "sub": str(client.id),
            "client_id": str(client.id),
            "pseudonym": client.name,
            "roles": [],
            "scope": scope,
            "org": str(organisation.id),
            "org_kind": organisation.kind,
            "area": organisation.ward_codes,
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "iat": issued_at,
            "exp": issued_at + ttl,
            "jti": uuid.uuid4().hex,
        }
        if organisation.kind == OrganisationKind.BOROUGH_COMMAND:
            claims["area_boroughs"] = [organisation.code]
        token = jwt.encode(
            claims, private_key, algorithm=SIGNING_ALGORITHMS[0], headers={"kid": kid}
        )
        log.info("identity.client_token.issued", client_id=str(client.id), scope=scope)
        return IssuedClientToken(access_token=token, expires_in=ttl, scope=scope)
