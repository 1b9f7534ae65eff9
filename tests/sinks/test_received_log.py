"""A sink's log answers a poller with only what is new, also once it has dropped the oldest."""

from __future__ import annotations

from deploy.sinks import ReceivedLog


class TestReceivedLog:
    def test_after_gives_what_arrived_since_the_count_seen(self) -> None:
        log: ReceivedLog[int] = ReceivedLog(maxlen=10)
        for item in range(4):
            log.append(item)

        assert log.after(0) == [0, 1, 2, 3]
        assert log.after(3) == [3]
        assert log.after(4) == []

    def test_counts_survive_the_oldest_being_dropped_and_a_clear(self) -> None:
        log: ReceivedLog[int] = ReceivedLog(maxlen=3)
        for item in range(5):
            log.append(item)

        assert list(log) == [2, 3, 4]
        assert log.after(1) == [2, 3, 4]  # 1 was dropped: the kept ones from the oldest on
        assert log.after(4) == [4]
        log.clear()
        log.append(5)
        assert log.after(5) == [5]
