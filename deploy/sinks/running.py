"""What every sink shares, whatever it speaks: the book of faults it is told to act out, and
running it as a process until SIGTERM or SIGINT.

A fault applies to one target (an email address, a phone number, an FCM registration token, a
web push subscription) or, with no target, to every message; forever or for the next ``times``
messages. A target's own faults come before those for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

from shared.logs import configure_logging, get_logger

log = get_logger(__name__)


class CountedFault(Protocol):
    @property
    def times(self) -> int | None: ...


F = TypeVar("F", bound=CountedFault)


class FaultBook(Generic[F]):
    """The faults in force. ``target_of`` reads a fault's target (None: everyone); targets are
    compared after ``normalise`` (email addresses ignore letter case)."""

    def __init__(
        self,
        target_of: Callable[[F], str | None],
        *,
        normalise: Callable[[str], str] = str,
    ) -> None:
        self._target_of = target_of
        self._normalise = normalise
        self._faults: list[F] = []
        # How many more times each limited fault applies, by the fault's identity.
        self._remaining: dict[int, int] = {}

    def add(self, fault: F) -> None:
        self._faults.append(fault)
        if fault.times is not None:
            self._remaining[id(fault)] = fault.times

    def clear(self) -> None:
        self._faults.clear()
        self._remaining.clear()

    def listed(self) -> list[F]:
        return list(self._faults)

    def take(self, target: str | None) -> F | None:
        """The fault for one message to ``target``, counting it against ``times``."""
        if not self._faults:
            return None
        wanted = None if target is None else self._normalise(target)
        for specific in (True, False):
            for fault in self._faults:
                own = self._target_of(fault)
                matches = (
                    own is not None and self._normalise(own) == wanted if specific else own is None
                )
                if matches:
                    self._count(fault)
                    return fault
        return None

    def _count(self, fault: F) -> None:
        left = self._remaining.get(id(fault))
        if left is None:
            return
        if left <= 1:
            self._faults = [kept for kept in self._faults if kept is not fault]
            del self._remaining[id(fault)]
        else:
            self._remaining[id(fault)] = left - 1


async def serve_until_signalled(sink: AbstractAsyncContextManager[Any], name: str) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with sink:
        await stopping.wait()
        log.info("sink.stopping", sink=name)


def run_sink(name: str, build: Callable[[], AbstractAsyncContextManager[Any]]) -> None:
    """A sink's ``main``: logs as the services do (``LOG_LEVEL``, ``LOG_JSON``), builds the
    sink once logging is set up, serves until SIGTERM or SIGINT, then stops cleanly."""
    configure_logging(
        name,
        os.environ.get("LOG_LEVEL", "INFO"),
        os.environ.get("LOG_JSON", "true").lower() == "true",
    )
    sink = build()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_until_signalled(sink, name))
