"""Leases on claimed deliveries: a dead dispatcher's rows come back in seconds, a live one's
never.

A claim marks rows ``sending`` with the claiming process's id (``claimed_by``) and a lease
(``lease_expires_at`` = the database's now + ``lease_s``). While the process lives, its
:class:`LeaseKeeper` extends every lease it holds, every ``lease_renew_interval_s``, in one
statement; the sweeper makes ``sending`` rows whose lease lapsed due again. So rows held by a
process killed with ``kill -9`` are due again within ``lease_s + sweep_interval_s`` (15 s with
the defaults), while a slow chunk of a live process is never taken from it, however long its
provider takes. One lease holder per process: the delivery workers, the digest job and the
account email sender of a process share it.

Times are the database's (``now()``), never the process's clock, so processes on skewed clocks
agree on when a lease has lapsed.

What a lease cannot tell: a process that is alive but cannot reach the database (its renewals
fail) loses its leases, and another process may send its rows again; its late outcome then
changes nothing (a result is recorded only under the claim it answers). The sending timeout
stays as a backstop for a process that renews but whose chunk never ends.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.account_emails.repository import AccountEmailRepository
from services.dispatch.deliveries.repository import DeliveryRepository, Lease
from shared.db import session_scope
from shared.logs import get_logger

log = get_logger(__name__)


class LeaseKeeper:
    """Renews every lease one process holds until cancelled."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        lease: Lease,
        renew_every_s: float,
    ) -> None:
        self._sessions = sessions
        self.lease = lease
        self._renew_every_s = renew_every_s

    async def renew(self) -> int:
        """Extend this process's leases; return how many rows it holds."""
        async with session_scope(self._sessions) as session:
            deliveries = await DeliveryRepository(session).renew_leases(self.lease)
            emails = await AccountEmailRepository(session).renew_leases(self.lease)
            return deliveries + emails

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._renew_every_s)
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is away: the next tick tries again; meanwhile the leases run on.
                log.warning("dispatch.lease.renew_failed", holder=self.lease.holder, exc_info=True)
