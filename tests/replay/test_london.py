"""The London-wide alert's figures and the projection to a million members, without a
platform."""

from __future__ import annotations

from replay.london import platform_figures, projection
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
