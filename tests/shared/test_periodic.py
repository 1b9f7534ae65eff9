"""The timer that runs the digest and the purge in every process."""

from __future__ import annotations

import asyncio
import contextlib

from shared.periodic import run_every
from tests.support.waiting import DEFAULT_TIMEOUT_S


class TestRunEvery:
    async def test_keeps_running_after_a_failure(self) -> None:
        runs: list[int] = []
        enough = asyncio.Event()

        async def job() -> None:
            runs.append(len(runs))
            if len(runs) == 1:
                raise ConnectionError("the database is away")
            if len(runs) == 3:
                enough.set()

        task = asyncio.create_task(run_every(0.01, job, name="test"))
        async with asyncio.timeout(DEFAULT_TIMEOUT_S):
            await enough.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

        assert runs[:3] == [0, 1, 2]
        assert task.cancelled()
