"""The replay's own arithmetic: the exactly-once check, the latency buckets and the generated
population, without a platform."""

from __future__ import annotations

from replay.population import (
    PUSH_SHARE,
    SEEDED_DOMAIN,
    Postcode,
    generate_members,
    load_postcodes,
)
from replay.report import bucket_of, check_exactly_once, percentile
from replay.runner import Received, RunState, SentMessage


def _state(deliveries: list[tuple[str, str]]) -> RunState:
    state = RunState()
    state.sent[(1, "a")] = SentMessage(
        1, "a", "Moderate", 0.0, {"email": {"a@x", "b@x"}, "fcm": {"tok"}}
    )
    for number, (channel, recipient) in enumerate(deliveries):
        state.receive((channel, str(number)), Received(channel, recipient, (1, "a"), 1.0))
    return state


class TestExactlyOnceCheck:
    SEEDED = frozenset({"a@x", "b@x", "c@x", "tok"})

    def test_every_recipient_once_is_clean(self) -> None:
        check = check_exactly_once(
            _state([("email", "a@x"), ("email", "b@x"), ("fcm", "tok")]), self.SEEDED
        )
        assert check["messages_expected"] == 3
        assert check["messages_delivered"] == 3
        assert (check["lost"], check["doubled"], check["unexpected"]) == (0, 0, 0)

    def test_a_missing_delivery_is_lost_on_its_channel(self) -> None:
        check = check_exactly_once(_state([("email", "a@x"), ("email", "b@x")]), self.SEEDED)
        assert check["lost"] == 1
        assert check["lost_by_channel"] == {"fcm": 1}

    def test_each_extra_copy_counts_as_doubled(self) -> None:
        deliveries = [("email", "a@x")] * 3 + [("email", "b@x"), ("fcm", "tok")]
        assert check_exactly_once(_state(deliveries), self.SEEDED)["doubled"] == 2

    def test_a_seeded_member_outside_the_audience_is_unexpected(self) -> None:
        deliveries = [("email", "a@x"), ("email", "b@x"), ("fcm", "tok"), ("email", "c@x")]
        assert check_exactly_once(_state(deliveries), self.SEEDED)["unexpected"] == 1

    def test_someone_not_seeded_is_not_counted(self) -> None:
        deliveries = [("email", "a@x"), ("email", "b@x"), ("fcm", "tok"), ("email", "demo@y")]
        check = check_exactly_once(_state(deliveries), self.SEEDED)
        assert (check["lost"], check["doubled"], check["unexpected"]) == (0, 0, 0)

    def test_the_backlog_counts_only_expected_deliveries(self) -> None:
        state = _state([("email", "a@x"), ("email", "demo@y"), ("email", "a@x")])
        assert state.backlog() == 2
        assert state.delivered_by_channel() == {"email": 3}

    def test_a_delivery_seen_before_its_publish_answer_is_matched_later(self) -> None:
        state = RunState()
        state.receive(("email", "1"), Received("email", "a@x", (1, "a"), 1.0))
        assert state.backlog() == 0  # nothing sent yet, as far as the replay knows
        state.sent[(1, "a")] = SentMessage(1, "a", "Moderate", 0.0, {"email": {"a@x", "b@x"}})
        assert state.backlog() == 1


class TestBuckets:
    def test_sizes_fall_in_decades(self) -> None:
        assert [bucket_of(n) for n in (1, 9, 10, 999, 1_000, 100_000)] == [
            "1-9", "1-9", "10-99", "100-999", "1000-9999", "10000+",
        ]  # fmt: skip

    def test_percentile_is_nearest_rank(self) -> None:
        values = [float(v) for v in range(1, 101)]
        assert percentile(values, 0.5) == 50.0
        assert percentile(values, 0.95) == 95.0
        assert percentile(values, 1.0) == 100.0


class TestPopulation:
    def test_the_same_seed_gives_the_same_members(self) -> None:
        postcodes = load_postcodes()
        one = list(generate_members(2_000, seed=3, reach=0.3, postcodes=postcodes))
        two = list(generate_members(2_000, seed=3, reach=0.3, postcodes=postcodes))
        assert one == two

    def test_members_are_marked_and_two_thirds_can_be_pushed_to(self) -> None:
        members = list(generate_members(6_000, seed=3, reach=0.3, postcodes=load_postcodes()))
        assert all(m.email.endswith(f"@{SEEDED_DOMAIN}") for m in members)
        assert len({m.email for m in members}) == len(members)
        pushed = sum(1 for m in members if m.push is not None) / len(members)
        assert abs(pushed - PUSH_SHARE) < 0.03
        assert 0 < sum(1 for m in members if m.phone) < len(members) * 0.05

    def test_no_two_members_share_a_phone_number_past_the_100000th(self) -> None:
        # Numbers were index % 100,000, so member i and i + 100,000 shared one: the full-scale
        # busiest week counted each such SMS, sent once per member, as doubled.
        postcodes = [Postcode("SW1A 1AA", "E05013806")]
        members = generate_members(250_000, seed=3, reach=0.0, postcodes=postcodes)
        phones = [m.phone for m in members if m.phone]
        assert len(phones) > 4_000
        assert len(set(phones)) == len(phones)

    def test_everyone_receives_safety_advice_and_reach_sets_the_rest(self) -> None:
        postcodes = [Postcode("SW1A 1AA", "E05013806")]
        members = list(generate_members(4_000, seed=1, reach=0.25, postcodes=postcodes))
        assert all("safety_advice" in m.categories for m in members)
        burglary = sum(1 for m in members if "burglary" in m.categories) / len(members)
        assert abs(burglary - 0.25) < 0.03
