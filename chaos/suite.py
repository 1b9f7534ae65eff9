"""Running faults one after another against one platform, and counting what each cost.

A fault is a coroutine given a :class:`Trial`: it publishes the trial's alert when it chooses
(``trial.publish()``), injects its fault (waiting first, if it likes, until a share of the
recipients have their message: ``trial.delivered_share``), heals it, and returns the moment the
platform was whole again (the fault cleared, or the killed process gone and left to be
restarted). The suite then waits until every recipient has the alert, or gives up, and counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import httpx

from deploy.devstack import DEMO_OFFICER, DevStack
from replay.population import SeededMember
from shared.logs import get_logger

log = get_logger(__name__)

# How often the sinks are read while waiting: each read lists every message the sink holds.
POLL_INTERVAL_S = 2.0
# Waiting for recipients ends early when none has been added for this long: longer than the
# dispatcher's sending timeout (DISPATCH_SENDING_TIMEOUT_S, 120 s), after which a dead worker's
# rows are sent again, so that a slow recovery is not taken for a loss.
STALL_S = 180.0


@dataclass(frozen=True)
class Audience:
    """Who must receive each alert: every seeded member by email, those with a mobile push
    token by FCM as well."""

    emails: frozenset[str]
    fcm_tokens: frozenset[str]

    @classmethod
    def of(cls, members: Sequence[SeededMember]) -> Audience:
        return cls(
            frozenset(m.email for m in members),
            frozenset(m.fcm_token for m in members if m.push == "fcm"),
        )

    @property
    def size(self) -> int:
        return len(self.emails) + len(self.fcm_tokens)


@dataclass
class Outcome:
    """What one fault cost. ``lost`` and ``doubled`` count recipients (an address on one
    channel); ``recovery_s`` is from the fault's end to the last recipient's first message."""

    fault: str
    expected: int
    delivered: int
    lost: int
    doubled: int
    extra_messages: int
    excused: int
    """Recipients the fault made undeliverable on purpose (a permanent refusal of their
    address), so not expected and not lost."""
    recovery_s: float | None
    publish_to_last_s: float | None
    note: str = ""
    lost_sample: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Fault = Callable[["Trial"], Awaitable[float]]


@dataclass(frozen=True)
class FaultSpec:
    name: str
    run: Fault
    kills_a_dispatcher: bool = False
    excused: Callable[[Audience], frozenset[str]] | None = None


class Trial:
    """One fault's alert: publishing it, watching the sinks for it, and the hooks faults use."""

    def __init__(
        self, suite: ChaosSuite, name: str, tag: str, excused: frozenset[str] = frozenset()
    ) -> None:
        self.suite = suite
        self.name = name
        self.tag = tag
        self.excused = excused
        self.published_at: float | None = None
        self.note = ""
        # recipient -> received_at (unix seconds) of each message for this alert
        self.received: dict[str, list[float]] = {}

    @property
    def stack(self) -> DevStack:
        return self.suite.stack

    @property
    def expected(self) -> frozenset[str]:
        audience = self.suite.audience
        return (audience.emails | audience.fcm_tokens) - self.excused - self.suite.disabled

    async def publish(self) -> None:
        self.published_at = time.time()
        await self.suite.publish(self.tag)

    async def count(self) -> int:
        """Recipients who have the alert so far (reads the sinks)."""
        await self.read_sinks()
        return len(self.expected & self.received.keys())

    async def delivered_share(self, share: float, *, timeout_s: float = 600.0) -> None:
        wanted = max(1, int(share * len(self.expected)))
        deadline = time.monotonic() + timeout_s
        while await self.count() < wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {wanted} recipients never reached")
            await asyncio.sleep(0.5)

    async def read_sinks(self) -> None:
        smtp, fcm = await asyncio.gather(
            self.suite.client.get(f"{self.stack.smtp_sink_url}/messages"),
            self.suite.client.get(f"{self.suite.fcm_sink_url}/messages"),
        )
        received: dict[str, list[float]] = {}
        for mail in smtp.raise_for_status().json():
            if self.tag in mail["subject"]:
                for recipient in mail["rcpt_tos"]:
                    received.setdefault(recipient.lower(), []).append(_moment(mail["received_at"]))
        for push in fcm.raise_for_status().json():
            if self.tag in json.dumps(push["message"]):
                received.setdefault(push["token"], []).append(_moment(push["received_at"]))
        self.received = received

    def process(self, name: str) -> int:
        """The process id of one of the stack's processes, by name ("dispatch", "geo"...)."""
        (process,) = [p for p in self.stack.processes if p.name == name]
        return process.process.pid

    def kill(self, name: str) -> float:
        """kill -9 one of the stack's processes; the suite's supervisor starts it again."""
        os.kill(self.process(name), signal.SIGKILL)
        return time.time()

    async def events_relayed(self, service: str) -> float:
        """How many events ``service``'s outbox relay has handed to the broker (its metrics)."""
        response = await self.suite.client.get(f"{self.stack.service_url(service)}/metrics")
        total = 0.0
        for line in response.raise_for_status().text.splitlines():
            if line.startswith("tawny_outbox_published_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    async def relayed_since(self, service: str, before: float, timeout_s: float = 60.0) -> None:
        """Wait until ``service`` has relayed another event since it had relayed ``before``."""
        deadline = time.monotonic() + timeout_s
        while await self.events_relayed(service) <= before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service}'s outbox relay sent nothing")
            await asyncio.sleep(0.1)

    async def sink_fault(self, sink: str, **fault: object) -> None:
        """Set a fault on the "smtp" or "fcm" sink (``deploy/sinks``: their fault APIs)."""
        base = {"smtp": self.stack.smtp_sink_url, "fcm": self.suite.fcm_sink_url}[sink]
        (await self.suite.client.post(f"{base}/faults", json=fault)).raise_for_status()

    async def clear_faults(self) -> float:
        await asyncio.gather(
            self.suite.client.delete(f"{self.stack.smtp_sink_url}/faults"),
            self.suite.client.delete(f"{self.suite.fcm_sink_url}/faults"),
        )
        return time.time()


def _moment(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class ChaosSuite:
    """Faults played one at a time on ``stack``, whose seeded ``members`` watch ``ward_code``."""

    def __init__(
        self,
        stack: DevStack,
        members: Sequence[SeededMember],
        ward_code: str,
        *,
        recovery_timeout_s: float,
        settle_s: float,
        client: httpx.AsyncClient,
        on_progress: Callable[[str], None] = print,
    ) -> None:
        self.stack = stack
        self.audience = Audience.of(members)
        self.ward_code = ward_code
        self.recovery_timeout_s = recovery_timeout_s
        self.settle_s = settle_s
        self.client = client
        self.run_id = uuid.uuid4().hex[:6]
        self._say = on_progress
        self._officer_token: tuple[str, float] | None = None
        # Addresses a provider refused for good in an earlier fault: dispatch has disabled
        # them, as it should, so later alerts do not go to them.
        self.disabled: set[str] = set()

    @property
    def fcm_sink_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports.fcm}"

    # --- the alert ----------------------------------------------------------------------------

    async def _headers(self) -> dict[str, str]:
        if self._officer_token is None or time.monotonic() - self._officer_token[1] > 300:
            for attempt in range(30):  # the platform may be recovering from the last fault
                try:
                    response = await self.client.post(
                        f"{self.stack.gateway_url}/api/identity/tokens",
                        json={"email": DEMO_OFFICER[0], "password": DEMO_OFFICER[1]},
                    )
                    if response.status_code == 200:
                        self._officer_token = (response.json()["access_token"], time.monotonic())
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(min(2.0 * (attempt + 1), 10.0))
            else:
                raise RuntimeError("the demo officer could not sign in")
        assert self._officer_token is not None
        return {"Authorization": f"Bearer {self._officer_token[0]}"}

    async def publish(self, tag: str) -> None:
        await self.publish_draft(await self.create(tag))

    async def create(self, tag: str) -> str:
        """Draft the alert to the suite's ward, headed with ``tag``; returns its id."""
        gateway = self.stack.gateway_url
        created = await self.client.post(
            f"{gateway}/api/alerts/alerts",
            headers=await self._headers(),
            json={
                "headline": f"{tag} Safety advice for the area",
                "body": "Chaos suite: keep doors and windows locked tonight.",
                "crime_type": "safety_advice",
                "severity": "Moderate",
                "urgency": "Expected",
                "channels": ["email", "push"],
                "contact": "Call 101, or 999 in an emergency.",
                "reference": f"CHAOS {self.run_id}",
                "target_ward_codes": [self.ward_code],
                "target_borough_codes": [],
                "no_victim_details_confirmed": True,
            },
        )
        if created.status_code != 201:
            raise RuntimeError(f"creating the alert: {created.status_code} {created.text[:300]}")
        alert_id: str = created.json()["id"]
        return alert_id

    async def publish_draft(self, alert_id: str) -> None:
        gateway = self.stack.gateway_url
        published = await self.client.post(
            f"{gateway}/api/alerts/alerts/{alert_id}/publish", headers=await self._headers()
        )
        if published.status_code != 200:
            raise RuntimeError(f"publishing: {published.status_code} {published.text[:300]}")

    # --- one fault ----------------------------------------------------------------------------

    async def _clear_sinks(self) -> None:
        await asyncio.gather(
            self.client.delete(f"{self.stack.smtp_sink_url}/messages"),
            self.client.delete(f"{self.fcm_sink_url}/messages"),
            self.client.delete(f"{self.stack.smtp_sink_url}/faults"),
            self.client.delete(f"{self.fcm_sink_url}/faults"),
        )

    async def play(self, spec: FaultSpec) -> Outcome:
        await self._clear_sinks()
        excused = spec.excused(self.audience) if spec.excused else frozenset()
        trial = Trial(self, spec.name, f"[X{self.run_id} {spec.name}]", excused)
        self._say(f"{spec.name}: publishing to {len(trial.expected):,} recipients")
        healed_at = await spec.run(trial)
        deadline = time.monotonic() + self.recovery_timeout_s
        progress, progressed_at = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = await trial.count()
            if count >= len(trial.expected):
                break
            if count > progress:
                progress, progressed_at = count, time.monotonic()
            elif time.monotonic() - progressed_at > STALL_S:
                trial.note = (trial.note + f"; no progress for {STALL_S:.0f} s").lstrip("; ")
                break
            await asyncio.sleep(POLL_INTERVAL_S)
        # Late copies (a reclaimed row sent again) come after the last first copy: wait for them.
        await asyncio.sleep(self.settle_s)
        await trial.read_sinks()
        await self._clear_sinks()
        self.disabled |= excused
        return self._outcome(trial, healed_at)

    def _outcome(self, trial: Trial, healed_at: float) -> Outcome:
        expected = trial.expected
        got = {r: times for r, times in trial.received.items() if r in expected}
        lost = sorted(expected - got.keys())
        copies = Counter({r: len(times) for r, times in got.items()})
        firsts = [min(times) for times in got.values()]
        last_first = max(firsts) if firsts else None
        complete = not lost and last_first is not None
        outcome = Outcome(
            fault=trial.name,
            expected=len(expected),
            delivered=len(got),
            lost=len(lost),
            doubled=sum(1 for n in copies.values() if n > 1),
            extra_messages=sum(n - 1 for n in copies.values()),
            excused=len(trial.excused),
            recovery_s=round(max(0.0, last_first - healed_at), 1)
            if complete and last_first
            else None,
            publish_to_last_s=round(last_first - trial.published_at, 1)
            if complete and last_first and trial.published_at
            else None,
            note=trial.note,
            lost_sample=lost[:5],
        )
        self._say(
            f"{trial.name}: {outcome.delivered:,}/{outcome.expected:,} delivered, "
            f"{outcome.lost} lost, {outcome.doubled} doubled, recovery {outcome.recovery_s} s"
        )
        return outcome

    async def run(self, specs: Sequence[FaultSpec]) -> list[Outcome]:
        outcomes = []
        for spec in specs:
            try:
                outcomes.append(await self.play(spec))
            except Exception as error:
                # A fault the harness could not even play (the platform never came back to take
                # the alert) is a failure of the platform, reported as every recipient lost.
                log.warning("chaos.fault.failed", fault=spec.name, error=repr(error))
                self._say(f"{spec.name}: could not be played: {error!r}")
                outcomes.append(
                    Outcome(
                        spec.name,
                        self.audience.size,
                        0,
                        self.audience.size,
                        0,
                        0,
                        0,
                        None,
                        None,
                        note=f"not played: {error!r}"[:200],
                    )
                )
            try:
                await self.wait_until_ready()
            except RuntimeError as error:
                # The platform did not come back: the faults left are not played, and the table
                # says so rather than the run ending without one.
                self._say(f"stopping after {spec.name}: {error}")
                outcomes[-1].note = f"{outcomes[-1].note}; the platform did not recover".lstrip(
                    "; "
                )
                break
        return outcomes

    async def wait_until_ready(self, timeout_s: float = 300.0) -> None:
        """Between faults: the gateway answers ready again (every service and the broker)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                response = await self.client.get(f"{self.stack.gateway_url}/readyz")
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(1.0)
        raise RuntimeError("the platform did not become ready again")


@asynccontextmanager
async def supervised(stack: DevStack, interval_s: float = 0.5) -> AsyncIterator[None]:
    """Restart crashed processes while the suite runs, as ``make run``'s supervisor does.

    In the event loop's own thread, never a thread of its own: the kernel's parent-death
    signal (``die_with_parent``) follows the *thread* that started a child, so a service
    restarted from a short-lived thread would be stopped (SIGTERM) the moment that thread
    ended, leaving the platform without it after the suite."""

    async def loop() -> None:
        while True:
            stack.supervise()
            await asyncio.sleep(interval_s)

    task = asyncio.create_task(loop(), name="chaos-supervisor")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
