"""Who is calling, checked at the edge before anything is forwarded.

A bearer token is verified against identity's JWKS (cached, refreshed on an unknown key id): a
forged or expired token is refused here with 401 and never reaches a service. Services still
verify the token themselves; the gateway adds ``X-Tawny-Member-Id`` only so their logs can name
the caller. Requests are then counted against the caller's address and, when signed in, their
account; over either limit the answer is 429 with Retry-After.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.gateway.edge.ratelimit import TokenBucketLimiter
from services.gateway.errors import RateLimitedError
from shared.auth import JWKSVerifier


@dataclass(frozen=True)
class EdgeCaller:
    address: str
    member_id: uuid.UUID | None


@dataclass(frozen=True)
class EdgeGuards:
    verifier: JWKSVerifier
    per_address: TokenBucketLimiter
    per_account: TokenBucketLimiter


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
        member_id = (await guards.verifier.verify(token)).member_id
        wait = guards.per_account.acquire(str(member_id))
        if wait is not None:
            raise RateLimitedError("account", wait)
    return EdgeCaller(address=address, member_id=member_id)


EdgeCallerDep = Annotated[EdgeCaller, Depends(edge_caller)]
