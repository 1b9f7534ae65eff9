"""The pause of a polling loop: short while work is found, backing off while none is, and
straight back to short when woken."""

from __future__ import annotations

from shared.polling import PollPause


class RecordingPause(PollPause):
    """Notes each pause it is asked for, and takes none (a wake-up set before still counts)."""

    def __init__(self, *, interval_s: float = 0.1, idle_max_s: float = 0.4) -> None:
        super().__init__(interval_s=interval_s, idle_max_s=idle_max_s)
        self.pauses: list[float] = []

    async def sleep(self, timeout_s: float) -> bool:
        self.pauses.append(timeout_s)
        return await super().sleep(0)


class TestPollPause:
    async def test_doubles_while_nothing_is_found_up_to_the_idle_maximum(self) -> None:
        pause = RecordingPause()

        for _ in range(5):
            await pause.after(0)

        assert pause.pauses == [0.1, 0.2, 0.4, 0.4, 0.4]

    async def test_a_wake_up_ends_the_pause_and_the_next_one_is_short(self) -> None:
        pause = RecordingPause()
        for _ in range(3):
            await pause.after(0)

        pause.wake()
        await pause.after(0)
        await pause.after(0)

        assert pause.pauses == [0.1, 0.2, 0.4, 0.4, 0.1]

    async def test_finding_work_or_a_full_batch_makes_the_next_pause_short(self) -> None:
        pause = RecordingPause()
        await pause.after(0)
        await pause.after(0)

        await pause.after(3)
        await pause.after(0)
        await pause.after(0)
        pause.reset()
        await pause.after(0)

        assert pause.pauses == [0.1, 0.2, 0.1, 0.1, 0.2, 0.1]

    async def test_the_idle_maximum_is_never_below_the_interval(self) -> None:
        pause = RecordingPause(interval_s=1.0, idle_max_s=0.2)

        await pause.after(0)
        await pause.after(0)

        assert pause.pauses == [1.0, 1.0]
