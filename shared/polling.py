"""The pause between two passes of a polling loop (the outbox relay, dispatch's delivery
workers), short while passes find work and backing off while they find none.

After a pass that found something but not a full batch, the loop waits ``interval_s``; after
each pass that found nothing, twice as long as the last time, up to ``idle_max_s``, so an idle
process costs next to nothing. :meth:`PollPause.wake` (a commit that added work, a notification)
ends the pause at once and brings it back to ``interval_s``. After a full batch the loop goes on
without a pause (:meth:`PollPause.reset`).
"""

from __future__ import annotations

import asyncio
import contextlib


class PollPause:
    def __init__(self, *, interval_s: float, idle_max_s: float) -> None:
        self._interval_s = interval_s
        self._idle_max_s = max(idle_max_s, interval_s)
        self._idle_s = interval_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """End the current pause (or the next one) now."""
        self._wake.set()

    def reset(self) -> None:
        """A full batch: the next idle pause starts short again."""
        self._idle_s = self._interval_s

    async def after(self, found: int) -> None:
        """The pause after a pass that found ``found`` items (fewer than a full batch)."""
        woken = await self.sleep(self._idle_s if found == 0 else self._interval_s)
        if woken or found:
            self._idle_s = self._interval_s
        else:
            self._idle_s = min(self._idle_max_s, self._idle_s * 2)

    async def sleep(self, timeout_s: float) -> bool:
        """Wait for :meth:`wake` or ``timeout_s``; True when woken."""
        # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives as
        # the wait completes, and shutdown would then wait forever.
        woken = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                woken = await self._wake.wait()
        self._wake.clear()
        return woken
