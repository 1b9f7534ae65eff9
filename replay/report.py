"""What a replay measured: the exactly-once check, latencies, throughput, the processes' CPU and
memory; written as JSON (``bench/results/replay.json``) and drawn as PNG plots."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from replay.runner import CHANNELS, RunState

THROUGHPUT_WINDOW = 10
SIZE_BUCKETS = ((1, 9), (10, 99), (100, 999), (1_000, 9_999), (10_000, 10**9))


def bucket_of(size: int) -> str:
    for low, high in SIZE_BUCKETS:
        if low <= size <= high:
            return f"{low}+" if high >= 10**9 else f"{low}-{high}"
    return "0"


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile; ``share`` in (0, 1]."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.machine()}, {cpus} CPUs {model}".strip()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


LOST_EXAMPLES = 50


def check_exactly_once(state: RunState, seeded: Collection[str]) -> dict[str, Any]:
    """Every expected (message, channel, recipient) received once: counts lost, doubled (each
    extra copy) and unexpected (a seeded recipient who should not have had it)."""
    copies: Counter[tuple[int, str, str, str]] = Counter()
    for received in state.received.values():
        if received.recipient in seeded:
            copies[(*received.key, received.channel, received.recipient)] += 1
    lost = doubled = delivered = 0
    lost_by_channel: Counter[str] = Counter()
    lost_examples: list[dict[str, Any]] = []
    expected_keys: set[tuple[int, str, str, str]] = set()
    for message in state.sent.values():
        for channel, recipients in message.expected.items():
            for recipient in recipients:
                key = (*message.key, channel, recipient)
                expected_keys.add(key)
                got = copies.get(key, 0)
                delivered += min(got, 1)
                doubled += max(0, got - 1)
                if got == 0:
                    lost += 1
                    lost_by_channel[channel] += 1
                    if len(lost_examples) < LOST_EXAMPLES:
                        lost_examples.append(
                            {
                                "alert": message.alert_number,
                                "kind": message.kind,
                                "channel": channel,
                                "recipient": recipient,
                            }
                        )
    unexpected = sum(n for key, n in copies.items() if key not in expected_keys)
    return {
        "messages_expected": len(expected_keys),
        "messages_delivered": delivered,
        "lost": lost,
        "lost_by_channel": dict(lost_by_channel),
        # Enough to look each one up in dispatch's deliveries: held on purpose, or lost.
        "lost_examples": lost_examples,
        "doubled": doubled,
        "unexpected": unexpected,
    }


def latencies(state: RunState) -> dict[str, Any]:
    """Per message: publish (the gateway's answer) to its first and last delivery, by the size
    of its expected audience (all channels)."""
    arrivals: dict[tuple[int, str], list[float]] = defaultdict(list)
    for received in state.received.values():
        arrivals[received.key].append(received.at)
    first: dict[str, list[float]] = defaultdict(list)
    last: dict[str, list[float]] = defaultdict(list)
    per_message = []
    for key, message in state.sent.items():
        if not message.expected_count or not arrivals.get(key):
            continue
        bucket = bucket_of(message.expected_count)
        to_first = max(0.0, min(arrivals[key]) - message.published_at)
        to_last = max(0.0, max(arrivals[key]) - message.published_at)
        first[bucket].append(to_first)
        last[bucket].append(to_last)
        per_message.append(
            {
                "alert": key[0],
                "kind": key[1],
                "recipients": message.expected_count,
                "first_s": round(to_first, 3),
                "last_s": round(to_last, 3),
            }
        )

    def summary(values: dict[str, list[float]], share: float) -> dict[str, float]:
        return {b: round(percentile(v, share), 3) for b, v in sorted(values.items())}

    return {
        "publish_to_first_p50_s": summary(first, 0.5),
        "publish_to_first_p95_s": summary(first, 0.95),
        "publish_to_last_p50_s": summary(last, 0.5),
        "publish_to_last_p95_s": summary(last, 0.95),
        "publish_to_last_p99_s": summary(last, 0.99),
        "messages_by_bucket": {b: len(v) for b, v in sorted(last.items())},
        "per_message": per_message,
    }


def throughput(state: RunState) -> dict[str, float]:
    """Per channel: messages over the time from its first to its last arrival."""
    times: dict[str, list[float]] = defaultdict(list)
    for received in state.received.values():
        times[received.channel].append(received.at)
    rates = {}
    for channel in CHANNELS:
        moments = times.get(channel, [])
        span = max(moments) - min(moments) if len(moments) > 1 else 0.0
        rates[channel] = round(len(moments) / span, 2) if span > 0 else 0.0
    return rates


def process_usage(state: RunState) -> dict[str, dict[str, float]]:
    usage: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for sample in state.samples:
        for name, figures in sample.get("processes", {}).items():
            for metric, value in figures.items():
                usage[name][metric].append(value)
    return {
        name: {
            "cpu_percent_mean": round(statistics.fmean(m["cpu_percent"]), 1),
            "cpu_percent_peak": round(max(m["cpu_percent"]), 1),
            "rss_mb_peak": round(max(m["rss_mb"]), 1),
        }
        for name, m in sorted(usage.items())
        if m.get("cpu_percent")
    }


def results(
    state: RunState,
    *,
    seeded: Collection[str],
    scale: float,
    speed: float,
    members: int,
    window: tuple[str | None, str | None],
    wall_s: float,
    played_until: str | None = None,
) -> dict[str, Any]:
    check = check_exactly_once(state, seeded)
    timing = latencies(state)
    return {
        "scale": scale,
        "speed": speed,
        "members": members,
        "window": {"from": window[0], "to": window[1], "played_until": played_until},
        "alerts": state.alerts_done,
        "messages_sent": len(state.sent),
        **check,
        "delivered_by_channel": dict(state.delivered_by_channel()),
        **{k: v for k, v in timing.items() if k != "per_message"},
        "msgs_per_s": throughput(state),
        "peak_backlog": max((s["backlog"] for s in state.samples), default=0),
        "processes": process_usage(state),
        "errors": dict(state.errors),
        "wall_s": round(wall_s, 1),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": load_average(),
        "per_message": timing["per_message"],
        "timeline": [{k: v for k, v in s.items() if k != "processes"} for s in state.samples],
    }


def write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def plot(data: dict[str, Any], directory: Path, *, prefix: str = "replay") -> list[Path]:
    """Throughput over time, backlog over time and the latency CDF, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    timeline = data["timeline"]
    times = [s["t"] for s in timeline]
    paths = []

    figure, axes = plt.subplots(figsize=(8, 4))
    for channel in CHANNELS:
        counts = [s["delivered"].get(channel, 0) for s in timeline]
        # Over the last THROUGHPUT_WINDOW samples: one poll's count is too jumpy to read.
        rates = [
            (counts[i] - counts[max(0, i - THROUGHPUT_WINDOW)])
            / max(1e-6, times[i] - times[max(0, i - THROUGHPUT_WINDOW)])
            for i in range(len(counts))
        ]
        if any(counts):
            axes.plot(times, rates, label=channel)
    axes.set(
        xlabel="seconds into the run",
        ylabel=f"messages/s (over {THROUGHPUT_WINDOW} polls)",
        title="Throughput per channel",
    )
    axes.legend()
    paths.append(directory / f"{prefix}_throughput.png")
    figure.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(8, 4))
    axes.plot(times, [s["backlog"] for s in timeline], color="tab:red")
    axes.set(xlabel="seconds into the run", ylabel="messages", title="Backlog (expected - seen)")
    paths.append(directory / f"{prefix}_backlog.png")
    figure.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(8, 4))
    for label, key in (("publish to first", "first_s"), ("publish to last", "last_s")):
        values = sorted(m[key] for m in data["per_message"])
        if values:
            axes.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    axes.set(xlabel="seconds", ylabel="share of messages", title="Latency CDF")
    axes.legend()
    paths.append(directory / f"{prefix}_latency_cdf.png")
    figure.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(figure)
    return paths
