"""One London-wide Extreme alert to every seeded member, beside a bare sender.

The platform's time is the officer's publish (the gateway's answer) to the last email or push
arriving at the sinks. The bare sender is ``bench/dispatch/baseline.py``'s least code per channel
(no database, no events, one template), run for the same number of messages to the same sinks,
the three channels at once as a dispatcher sends them: its wall time is what the machine needs
for the messages alone, so the ratio is what the platform costs on top.

Each run is kept in ``bench/results/london_alert.json`` under its number of dispatchers; the
projection to a million members comes from those runs (see :func:`projection`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from replay import report
from replay.plan import Plan, PlannedAlert
from replay.population import SeededMember
from replay.runner import RunState

PUSH_CHANNELS = ("email", "webpush", "fcm")
FULL_POPULATION = 1_000_000


def london_wide_alert(plan: Plan) -> PlannedAlert:
    """The plan's first London-wide alert, alone: its follow-ups would each be another send."""
    for alert in plan.alerts:
        if alert.target == "london_wide":
            return replace(alert, follow_ups=[])
    raise ValueError("the plan has no London-wide alert (plan with --london-wide 1 or more)")


def platform_figures(state: RunState) -> dict[str, Any]:
    """Publish to first and last delivery on email and push (SMS, a few members', apart)."""
    [message] = [m for m in state.sent.values() if m.kind == "a"]
    by_channel: dict[str, list[float]] = {}
    for received in state.received.values():
        if received.key == message.key:
            by_channel.setdefault(received.channel, []).append(received.at - message.published_at)
    pushed = [t for c in PUSH_CHANNELS for t in by_channel.get(c, [])]
    return {
        "recipients": message.expected_count,
        "messages": sum(len(message.expected.get(c, ())) for c in PUSH_CHANNELS),
        "publish_to_first_s": round(min(pushed), 2) if pushed else None,
        "publish_to_last_s": round(max(pushed), 2) if pushed else None,
        "publish_to_last_by_channel_s": {
            c: round(max(v), 2) for c, v in sorted(by_channel.items()) if v
        },
    }


async def bare_send(
    members: list[SeededMember],
    *,
    smtp_port: int,
    webpush_sink: str,
    fcm_sink: str,
    stack_dir: Path,
    gateway_url: str,
) -> dict[str, Any]:
    """The least-code senders, the three channels at once, for the alert's email and push
    recipients: every member's email, a fresh sink subscription per web push member (the
    same work as the members' own), every mobile push member's token."""
    from bench.dispatch import baseline
    from deploy.devstack import DEV_FCM_PROJECT
    from services.dispatch.config import DEV_UNSUBSCRIBE_KEY
    from shared.events import AlertContent

    content = AlertContent(
        alert_id=uuid.uuid4(),
        headline="Bare sender: London-wide safety advice",
        body="Stay indoors and follow the police's advice on 101 or tawny.london.",
        category="safety_advice",
        severity="Extreme",
        urgency="Immediate",
        sender_name="Metropolitan Police",
        sent_at=datetime.now(UTC),
    )
    webpush_count = sum(1 for m in members if m.push == "webpush")
    async with httpx.AsyncClient(base_url=webpush_sink, timeout=120.0) as client:
        subscriptions: list[dict[str, Any]] = []
        while len(subscriptions) < webpush_count:
            response = await client.post(
                "/subscriptions/batch",
                json={"count": min(10_000, webpush_count - len(subscriptions))},
            )
            response.raise_for_status()
            subscriptions.extend(response.json())
    service_account = json.loads((stack_dir / "fcm-service-account.json").read_text())
    vapid_key = (stack_dir / "vapid_private_key").read_text().strip()
    started = time.perf_counter()
    email, webpush, fcm = await asyncio.gather(
        baseline.email(
            smtp_port,
            content,
            [m.email for m in members],
            base_url=gateway_url,
            key=DEV_UNSUBSCRIBE_KEY.encode(),
        ),
        baseline.webpush(content, subscriptions, vapid_key),
        baseline.fcm(
            content,
            [m.fcm_token for m in members if m.push == "fcm"],
            service_account=service_account,
            base_url=fcm_sink,
            project_id=DEV_FCM_PROJECT,
        ),
    )
    return {
        "bare_s": round(time.perf_counter() - started, 2),
        "by_channel": {"email": email, "webpush": webpush, "fcm": fcm},
    }


def projection(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A million members on N dispatchers, from the measured runs: each run's email and push
    messages per second of publish-to-last, times the million-member alert's messages (ten
    times the 100,000's). Beyond the largest N measured, each doubling is assumed to add what
    the last measured doubling added (no more: the sinks and the database are shared)."""
    rates = {
        int(n): run["messages"] / run["publish_to_last_s"]
        for n, run in runs.items()
        if run.get("publish_to_last_s")
    }
    if not rates:
        return {}
    measured = sorted(rates)
    scale = {int(n): FULL_POPULATION / run["members"] for n, run in runs.items()}
    largest = measured[-1]
    gain = rates[largest] / rates[measured[-2]] if len(measured) > 1 else 1.0
    out: dict[str, Any] = {}
    n, rate = 1, rates[measured[0]]
    while n <= max(8, largest):
        if n in rates:
            rate = rates[n]
        elif n > largest:
            rate *= gain
        messages = runs[str(measured[0])]["messages"] * scale[measured[0]]
        out[str(n)] = {
            "msgs_per_s": round(rate, 1),
            "publish_to_last_s": round(messages / rate, 1),
            "measured": n in rates,
        }
        n *= 2
    return out


def earlier_runs(path: Path) -> dict[str, dict[str, Any]]:
    """The runs ``path`` keeps, by number of dispatchers. Read before the replay starts: the
    replay writes its own results to the same file as it ends."""
    existing = json.loads(path.read_text()) if path.exists() else {}
    runs: dict[str, dict[str, Any]] = existing.get("runs", {})
    return runs


def write_run(
    path: Path, dispatchers: int, run: dict[str, Any], earlier: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Keep ``run`` under its number of dispatchers beside the ``earlier`` ones; the top-level
    figures are the one-dispatcher run's (the issue's row), or this run's if there is none."""
    runs = {**earlier, str(dispatchers): run}
    headline = runs.get("1", run)
    data = {
        "members": headline["members"],
        "publish_to_first_s": headline["publish_to_first_s"],
        "publish_to_last_s": headline["publish_to_last_s"],
        "bare_s": headline["bare_s"],
        "ratio": headline["ratio"],
        "lost": headline["lost"],
        "doubled": headline["doubled"],
        "machine": report.machine(),
        "runs": dict(sorted(runs.items(), key=lambda item: int(item[0]))),
        "projection_1m": projection(runs),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data
