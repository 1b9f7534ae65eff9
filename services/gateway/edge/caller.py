"""Who is calling, checked at the edge before anything is forwarded.

A bearer token is verified against identity's JWKS (cached, refreshed on an unknown key id): a
forged or expired token is refused here with 401 and never reaches a service. A verified token
is remembered until it expires, so its signature is checked once, not on every request.
Services still verify the token themselves; the gateway adds ``X-Tawny-Member-Id`` only so
their logs can name the caller. Requests are then counted against the caller's address and,
when signed in, their account; over either limit the answer is 429 with Retry-After.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Depends, Request

from services.gateway.edge.ratelimit import TokenBucketLimiter
from services.gateway.errors import RateLimitedError
from shared.auth import JWKSVerifier


@dataclass(frozen=True)
class EdgeCaller:
    address: str
    member_id: uuid.UUID | None


@dataclass
class VerifiedTokens:
    """Tokens this gateway has verified, with the member they name, until they expire.

    A signed-in browser sends the same token with every request for its lifetime: checking its
    signature once instead of on each request saves a public-key verification per request. Only
    a token that passed the full check is kept, never past its own ``exp``, at most
    ``max_entries`` of them (least recently used dropped first)."""

    max_entries: int = 10_000
    clock: Callable[[], float] = time.time
    _members: OrderedDict[str, tuple[uuid.UUID, float]] = field(default_factory=OrderedDict)

    def member(self, token: str) -> uuid.UUID | None:
        entry = self._members.get(token)
        if entry is None:
            return None
        member_id, expires_at = entry
        if expires_at <= self.clock():
            del self._members[token]
            return None
        self._members.move_to_end(token)
        return member_id

    def remember(self, token: str, member_id: uuid.UUID) -> None:
        # The signature was checked just now; only the already-verified expiry is read again.
        claims = jwt.decode(token, options={"verify_signature": False})
        self._members[token] = (member_id, float(claims["exp"]))
        while len(self._members) > self.max_entries:
            self._members.popitem(last=False)


@dataclass(frozen=True)
class EdgeGuards:
    verifier: JWKSVerifier
    per_address: TokenBucketLimiter
    per_account: TokenBucketLimiter
    verified: VerifiedTokens = field(default_factory=VerifiedTokens)


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def edge_caller(request: Request) -> EdgeCaller:
    guards: EdgeGuards = request.app.state.edge_guards
    address = request.client.host if request.client else "unknown"
    wait = guards.per_address.acquire(address)
    if wait is not None:
        raise RateLimitedError("address", wait)
    member_id = None
    token = _bearer_token(request)
    if token is not None:
        member_id = guards.verified.member(token)
        if member_id is None:
            member_id = (await guards.verifier.verify(token)).member_id
            guards.verified.remember(token, member_id)
        wait = guards.per_account.acquire(str(member_id))
        if wait is not None:
            raise RateLimitedError("account", wait)
    return EdgeCaller(address=address, member_id=member_id)


EdgeCallerDep = Annotated[EdgeCaller, Depends(edge_caller)]
