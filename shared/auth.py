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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import ForbiddenError, UnauthorizedError
from shared.logs import get_logger

log = get_logger(__name__)

SIGNING_ALGORITHMS = ["EdDSA"]
# Identity's access tokens live at most 15 minutes; a validly signed token that claims to live
# longer was not made by the identity we know (a leaked key, a bug), so it is refused.
DEFAULT_MAX_LIFETIME_S = 900
# Clocks of identity and the verifying service may differ by this much.
CLOCK_SKEW_S = 30


class AccessTokenClaims(BaseModel):
    """The claims Tawny reads from an access token, with their types checked: a signed token
    whose ``area`` is a number is as unusable as a forged one, and answers 401, not 500."""

    model_config = ConfigDict(extra="ignore", strict=True)

    sub: uuid.UUID = Field(strict=False)
    pseudonym: str = ""
    roles: list[str] = Field(default_factory=list)
    vl: str = "email"
    org: uuid.UUID | None = Field(default=None, strict=False)
    area: list[str] = Field(default_factory=list)
    area_boroughs: list[str] = Field(default_factory=list)
    scope: str | list[str] | None = None


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
        """Raises pydantic's ``ValidationError`` when a claim is missing or of the wrong type."""
        checked = AccessTokenClaims.model_validate(claims)
        return cls(
            member_id=checked.sub,
            pseudonym=checked.pseudonym,
            roles=frozenset(checked.roles),
            verification_level=checked.vl,
            organisation_id=checked.org,
            area_ward_codes=tuple(checked.area),
            area_borough_codes=tuple(checked.area_boroughs),
            scopes=_scopes(checked.scope),
        )


def _scopes(claim: str | list[str] | None) -> frozenset[str]:
    if isinstance(claim, str):
        return frozenset(claim.split())
    return frozenset(claim or ())


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
        max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._min_refresh_s = min_refresh_s
        self._max_age_s = max_age_s
        self._max_lifetime_s = max_lifetime_s

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
        self._check_lifetime(claims)
        try:
            return Principal.from_claims(claims)
        except ValidationError as error:
            raise UnauthorizedError("The access token's claims are not valid.") from error

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Refuse a token meant to live longer than identity ever issues them: its ``exp`` more
        than the maximum lifetime after its ``iat``, or after now."""
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
            raise UnauthorizedError("The access token's times are not valid.")
        latest = min(iat, time.time()) + self._max_lifetime_s + CLOCK_SKEW_S
        if exp > latest:
            raise UnauthorizedError("The access token lives longer than tokens may.")


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


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal | None:
    """For what the public may read without a token: a token that is sent must be valid."""
    if credentials is None:
        return None
    verifier: JWKSVerifier = request.app.state.jwks_verifier
    return await verifier.verify(credentials.credentials)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets through only callers holding one of ``roles``."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any_role(*roles):
            raise ForbiddenError(f"This needs one of these roles: {', '.join(sorted(roles))}.")
        return principal

    return dependency
