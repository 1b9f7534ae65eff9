"""Slowing down password guessing without letting anyone lock a member out.

Failed sign-ins are counted under three keys: the client IP, the account, and the pair. Past a
few free failures, the next attempt under a key must wait 2^(failures - free) seconds, up to a
cap. The caps differ on purpose:

- the pair (this IP guessing this account) and the IP alone grow to 15 minutes: an attacker's
  own address slows right down;
- the account alone (failures from anywhere) only ever costs one minute, so someone who knows a
  member's email cannot keep them out: the member waits at most a minute, never longer.

Behind a proxy (the gateway), the client IP is the one the proxy adds to X-Forwarded-For; when
it adds none, only the account is counted. Nothing is ever locked. Throttles are written in
their own transaction so that they count although the request fails, and are read before any
password hashing, so a throttled guess costs identity nothing. Failures older than a day are
forgotten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.errors import TooManyAttemptsError
from services.identity.tokens.repository import ThrottleRepository
from shared.db import session_scope, utcnow
from shared.logs import get_logger

log = get_logger(__name__)

FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int
    max_delay_s: int

    def delay_s(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        return int(min(self.max_delay_s, 2 ** min(failures - self.free_failures, 20)))


PAIR_POLICY = ThrottlePolicy(free_failures=3, max_delay_s=900)
ACCOUNT_POLICY = ThrottlePolicy(free_failures=10, max_delay_s=60)
IP_MAX_DELAY_S = 900


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


class SignInThrottle:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        email: str,
        client_ip: str | None,
        ip_free_failures: int,
    ) -> None:
        self._sessions = sessions
        self._keys = {f"account:{_digest(email)}": ACCOUNT_POLICY}
        # Without a known client IP only the account is counted (at most a minute's delay).
        if client_ip is not None:
            self._keys[f"pair:{_digest(email + '|' + client_ip)}"] = PAIR_POLICY
            self._keys[f"ip:{_digest(client_ip)}"] = ThrottlePolicy(
                ip_free_failures, IP_MAX_DELAY_S
            )

    async def check(self) -> None:
        async with session_scope(self._sessions) as session:
            rows = await ThrottleRepository(session).get_many(list(self._keys))
        now = utcnow()
        wait_s = 0.0
        for row in rows:
            if row.last_failure_at < now - FORGET_AFTER:
                continue
            delay = self._keys[row.key].delay_s(row.failures)
            wait_s = max(
                wait_s, (row.last_failure_at + timedelta(seconds=delay) - now).total_seconds()
            )
        if wait_s > 0:
            log.info("identity.sign_in.throttled", retry_after_s=int(wait_s) + 1)
            raise TooManyAttemptsError(int(wait_s) + 1)

    async def failed(self) -> None:
        now = utcnow()
        async with session_scope(self._sessions) as session:
            repository = ThrottleRepository(session)
            for key in self._keys:
                await repository.count_failure(key, at=now, forget_before=now - FORGET_AFTER)

    async def succeeded(self) -> None:
        """The account and the pair start over; the IP's count stays (one good account must
        not wash an address's guessing at others)."""
        async with session_scope(self._sessions) as session:
            await ThrottleRepository(session).clear(
                [key for key in self._keys if not key.startswith("ip:")]
            )
