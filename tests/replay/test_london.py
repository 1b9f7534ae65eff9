"""The London-wide alert's figures and the projection to a million members, without a
platform."""

from __future__ import annotations

import json
from pathlib import Path

from replay.london import earlier_runs, platform_figures, projection, write_run
from replay.runner import Received, RunState, SentMessage


def _run(members: int, messages: int, seconds: float) -> dict[str, float]:
    return {"members": members, "messages": messages, "publish_to_last_s": seconds}


class TestPlatformFigures:
    def test_first_and_last_are_over_email_and_push_with_sms_apart(self) -> None:
        state = RunState()
        expected = {"email": {"a@x", "b@x"}, "fcm": {"tok"}, "sms": {"+44"}}
        state.sent[(7, "a")] = SentMessage(7, "a", "Extreme", 100.0, expected)
        for number, (channel, who, at) in enumerate(
            [("email", "a@x", 102.0), ("fcm", "tok", 101.5), ("email", "b@x", 110.0),
             ("sms", "+44", 130.0)]
        ):  # fmt: skip
            state.receive((channel, str(number)), Received(channel, who, (7, "a"), at))

        figures = platform_figures(state)

        assert figures["messages"] == 3
        assert (figures["publish_to_first_s"], figures["publish_to_last_s"]) == (1.5, 10.0)
        assert figures["publish_to_last_by_channel_s"]["sms"] == 30.0


class TestProjection:
    def test_measured_counts_are_scaled_to_a_million(self) -> None:
        runs = {"1": _run(5_000, 8_000, 100.0), "2": _run(5_000, 8_000, 50.0)}

        projected = projection(runs)

        assert projected["1"] == {
            "msgs_per_s": 80.0,
            "publish_to_last_s": 20_000.0,
            "measured": True,
        }
        assert projected["2"]["publish_to_last_s"] == 10_000.0
        # Beyond the largest measured count, each doubling gains what the last one did (2x).
        assert projected["4"] == {
            "msgs_per_s": 320.0,
            "publish_to_last_s": 5_000.0,
            "measured": False,
        }

    def test_no_runs_no_projection(self) -> None:
        assert projection({}) == {}


class TestWriteRun:
    def test_a_run_is_kept_beside_the_runs_read_before_the_replay_rewrote_the_file(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "london_alert.json"
        one = {**_run(100_000, 166_773, 198.0), "publish_to_first_s": 1.2, "bare_s": 85.0}
        write_run(path, 1, {**one, "ratio": 2.33, "lost": 0, "doubled": 0}, {})
        earlier = earlier_runs(path)
        # The replay of the next run writes its own results over the file before write_run.
        path.write_text(json.dumps({"messages_delivered": 168_760}))

        two = {**one, "publish_to_last_s": 99.0, "ratio": 1.16, "lost": 0, "doubled": 0}
        written = write_run(path, 2, two, earlier)

        assert set(written["runs"]) == {"1", "2"}
        assert written["publish_to_last_s"] == 198.0  # the one-dispatcher run's headline
        assert json.loads(path.read_text())["projection_1m"]["2"]["measured"] is True
