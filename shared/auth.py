"""Verifying identity's access tokens in every other service, against its published JWKS."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from shared.errors import ForbiddenError, UnauthorizedError
from shared.logs import get_logger

log = get_logger(__name__)

SIGNING_ALGORITHMS = ["EdDSA"]


class Principal(BaseModel):
    """Who is calling, as the access token says. Never carries personal data."""

    model_config = ConfigDict(frozen=True)

    member_id: uuid.UUID
    pseudonym: str
    roles: frozenset[str]
    verification_level: str = "email"
    organisation_id: uuid.UUID | None = None
    area_ward_codes: tuple[str, ...] = ()
    area_borough_codes: tuple[str, ...] = ()
    # Scopes of API clients (``cap:write``), from the space-separated ``scope`` claim.
    scopes: frozenset[str] = frozenset()

    def has_any_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        org = claims.get("org")
        return cls(
            member_id=uuid.UUID(claims["sub"]),
            pseudonym=claims.get("pseudonym", ""),
            roles=frozenset(claims.get("roles", [])),
            verification_level=claims.get("vl", "email"),
            organisation_id=uuid.UUID(org) if org else None,
            area_ward_codes=tuple(claims.get("area", [])),
            area_borough_codes=tuple(claims.get("area_boroughs", [])),
            scopes=_scopes(claims.get("scope")),
        )


def _scopes(claim: object) -> frozenset[str]:
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list):
        return frozenset(str(scope) for scope in claim)
    return frozenset()


class JWKSVerifier:
    """Caches identity's public keys; refetches when it meets a key id it does not know
    (a rotation), but at most once every ``min_refresh_s`` so a forged kid cannot hammer it."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        http: httpx.AsyncClient | None = None,
        min_refresh_s: float = 10.0,
        max_age_s: float = 300.0,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._min_refresh_s = min_refresh_s
        self._max_age_s = max_age_s

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _refresh(self) -> None:
        now = time.monotonic()
        if self._keys and now - self._fetched_at < self._min_refresh_s:
            return
        try:
            response = await self._http.get(self._jwks_url)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, jwt.PyJWKSetError, ValueError) as error:
            log.warning("auth.jwks_unavailable", url=self._jwks_url, error=repr(error))
            raise UnauthorizedError("The signing keys cannot be fetched just now.") from error
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = now

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys or time.monotonic() - self._fetched_at > self._max_age_s:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise UnauthorizedError("The token was signed with an unknown key.")
        return key

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise UnauthorizedError("The access token is malformed.") from error
        kid = header.get("kid")
        if not isinstance(kid, str) or header.get("alg") not in SIGNING_ALGORITHMS:
            raise UnauthorizedError("The access token has no usable key id or algorithm.")
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=SIGNING_ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise UnauthorizedError("The access token has expired.") from error
        except jwt.InvalidTokenError as error:
            raise UnauthorizedError("The access token is not valid.") from error
        try:
            return Principal.from_claims(claims)
        except (KeyError, ValueError) as error:
            raise UnauthorizedError("The access token's claims are incomplete.") from error


bearer_scheme = HTTPBearer(auto_error=False, description="An access token from identity")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None:
        raise UnauthorizedError("Sign in first: this needs an access token.")
    verifier: JWKSVerifier = request.app.state.jwks_verifier
    return await verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets through only callers holding one of ``roles``."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any_role(*roles):
            raise ForbiddenError(f"This needs one of these roles: {', '.join(sorted(roles))}.")
        return principal

    return dependency
