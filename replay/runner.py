"""Play a plan through the gateway's public API, and watch the sinks to see what arrives.

Officers sign in through the gateway and do what an officer does: create the alert, submit it
and have a second officer approve it where the rules demand (an Extreme alert, or one touching
several boroughs; the approver is never the author), publish, and later update, resolve or
cancel. Each planned moment is played at ``(moment - window start) / speed`` seconds into the
run.

Every message's headline starts with a tag, ``[R<run> <alert number><kind>]`` (kind ``a`` for
the alert, ``u`` an update, ``r`` a resolved outcome; a cancel's headline is the alert's with
``Cancelled:`` in front), so each message found in a sink is attributed to one alert message
and one recipient. The sinks are read through their listing APIs only; each read is merged by
the sink's own message id, so a message is counted once however often it is listed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from typing import Any

import httpx

from replay.plan import Geography, PlannedAlert
from replay.population import SeededMember

CHANNELS = ("email", "webpush", "fcm", "sms")
SMS_SEVERITIES = frozenset({"Extreme", "Severe"})
TAG = re.compile(r"(Cancelled: )?\[R(?P<run>[0-9a-f]+) (?P<number>\d+)(?P<kind>[aur])\]")
TOKEN_REFRESH_S = 300.0
SIGN_IN_ATTEMPTS = 5


@dataclass(frozen=True)
class Sinks:
    smtp: str
    webpush: str
    fcm: str
    notify: str


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@dataclass
class SentMessage:
    """One message the replay made go out: what it is, when, and who should get it."""

    alert_number: int
    kind: str  # a, u, r or c
    severity: str
    published_at: float  # time.time() when the gateway answered
    expected: dict[str, set[str]]  # channel -> recipient addresses

    @property
    def key(self) -> tuple[int, str]:
        return (self.alert_number, self.kind)

    @property
    def expected_count(self) -> int:
        return sum(len(r) for r in self.expected.values())


@dataclass
class Received:
    channel: str
    recipient: str
    key: tuple[int, str]
    at: float


@dataclass
class RunState:
    sent: dict[tuple[int, str], SentMessage] = field(default_factory=dict)
    received: dict[tuple[str, str], Received] = field(default_factory=dict)  # (channel, id)
    errors: Counter[str] = field(default_factory=Counter)
    alerts_done: int = 0
    # The plan moment of the latest alert published: where a run stopped early got to.
    played_until: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))
    actions_done: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    # Kept as deliveries arrive, so that a sample costs what arrived since the last one, not
    # the whole run's deliveries again (a scaled year is 180,000 of them).
    delivered: Counter[str] = field(default_factory=Counter)
    _matched: set[tuple[tuple[int, str], str, str]] = field(default_factory=set)
    _unmatched: list[Received] = field(default_factory=list)

    def receive(self, sink_id: tuple[str, str], received: Received) -> None:
        self.received[sink_id] = received
        self.delivered[received.channel] += 1
        self._unmatched.append(received)

    def delivered_by_channel(self) -> Counter[str]:
        return self.delivered

    def expected_total(self) -> int:
        return sum(m.expected_count for m in self.sent.values())

    def matched(self) -> int:
        """Distinct expected deliveries seen so far (a copy, or a message to someone who should
        not have it, is left to the final check). A delivery of a message not yet recorded as
        sent (its publish answer still on its way) is looked at again next time."""
        waiting: list[Received] = []
        for r in self._unmatched:
            message = self.sent.get(r.key)
            if message is None:
                waiting.append(r)
            elif r.recipient in message.expected.get(r.channel, ()):
                self._matched.add((r.key, r.channel, r.recipient))
        self._unmatched = waiting
        return len(self._matched)

    def backlog(self) -> int:
        return max(0, self.expected_total() - self.matched())


class Audience:
    """Who should receive an alert: the seeded members watching its wards who chose its crime
    type, on each channel they have (SMS only for Severe and Extreme, dispatch's default)."""

    def __init__(
        self,
        members: Sequence[SeededMember],
        geography: Geography,
        webpush_subscriptions: dict[int, str],
    ) -> None:
        self._by_ward: dict[str, list[SeededMember]] = defaultdict(list)
        for member in members:
            self._by_ward[member.ward_code].append(member)
        self._geography = geography
        self._webpush = webpush_subscriptions

    def of(self, alert: PlannedAlert) -> list[SeededMember]:
        wards = set(alert.ward_codes)
        if not alert.ward_codes:
            boroughs = set(alert.borough_codes)
            wards = {w for w, b in self._geography.ward_borough.items() if b in boroughs}
        return [
            m
            for ward in sorted(wards)
            for m in self._by_ward.get(ward, [])
            if alert.crime_type in m.categories
        ]

    def addresses(self, members: Sequence[SeededMember], severity: str) -> dict[str, set[str]]:
        by_channel: dict[str, set[str]] = {c: set() for c in CHANNELS}
        for member in members:
            by_channel["email"].add(member.email)
            if member.push == "webpush":
                by_channel["webpush"].add(self._webpush[member.index])
            elif member.push == "fcm":
                by_channel["fcm"].add(member.fcm_token)
            if member.phone is not None and severity in SMS_SEVERITIES:
                by_channel["sms"].add(member.phone)
        return by_channel


def subject_of(mail: dict[str, Any]) -> str:
    """A listed email's subject, decoded: a sink that keeps headers only (``--headers-only``)
    lists it as written, in RFC 2047 encoded words when it is not plain ASCII."""
    return str(make_header(decode_header(mail["subject"])))


class Officers:
    """Signed-in officers: the author, and a second officer who approves."""

    def __init__(
        self, client: httpx.AsyncClient, author: Credentials, approver: Credentials
    ) -> None:
        self._client = client
        self._credentials = {"author": author, "approver": approver}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._signing_in = asyncio.Lock()

    async def headers(self, role: str) -> dict[str, str]:
        async with self._signing_in:  # one sign-in per officer, not one per waiting request
            token, at = self._tokens.get(role, ("", 0.0))
            if time.monotonic() - at > TOKEN_REFRESH_S:
                token = await self._sign_in(self._credentials[role])
                self._tokens[role] = (token, time.monotonic())
        return {"Authorization": f"Bearer {token}"}

    async def _sign_in(self, credentials: Credentials) -> str:
        """Signing in changes nothing, so a timeout or a 5xx is simply tried again."""
        for attempt in range(SIGN_IN_ATTEMPTS):
            try:
                response = await self._client.post(
                    "/api/identity/tokens",
                    json={"email": credentials.email, "password": credentials.password},
                )
                if response.status_code < 500:
                    response.raise_for_status()
                    token: str = response.json()["access_token"]
                    return token
            except httpx.TransportError:
                if attempt == SIGN_IN_ATTEMPTS - 1:
                    raise
            await asyncio.sleep(2.0 * (attempt + 1))
        raise ReplayError(f"could not sign in as {credentials.email}")


class ReplayError(RuntimeError):
    pass


class Replayer:
    def __init__(
        self,
        *,
        gateway_url: str,
        sinks: Sinks,
        author: Credentials,
        approver: Credentials,
        audience: Audience,
        run_id: str,
        speed: float,
        concurrency: int = 8,
        publish_for_s: float | None = None,
    ) -> None:
        self._gateway_url = gateway_url
        self._sinks = sinks
        self._author = author
        self._approver = approver
        self._audience = audience
        self._run_id = run_id
        self._speed = speed
        self._concurrency = concurrency
        # Stop publishing after this many seconds (what has gone out is still watched to the
        # end): a window that a loaded platform cannot keep pace with still ends in time.
        self._publish_for_s = publish_for_s
        self.state = RunState()
        self._seen: Counter[str] = Counter()  # per sink: how many listed so far

    # --- playing the plan ---------------------------------------------------------------------

    async def play(
        self, alerts: Sequence[PlannedAlert], window_start: datetime, window_end: datetime | None
    ) -> None:
        """Every alert and follow-up in the window, each at its compressed moment."""
        actions: list[tuple[datetime, PlannedAlert, str]] = []
        for alert in alerts:
            actions.append((alert.at, alert, "a"))
            for follow_up in alert.follow_ups:
                if window_end is None or follow_up.at < window_end:
                    actions.append((follow_up.at, alert, follow_up.kind[0]))
        actions.sort(key=lambda a: (a[0], a[1].number, "aurc".index(a[2])))
        started = time.monotonic()
        limits = asyncio.Semaphore(self._concurrency)
        published: dict[int, asyncio.Event] = {a.number: asyncio.Event() for a in alerts}
        alert_ids: dict[int, str] = {}
        async with httpx.AsyncClient(base_url=self._gateway_url, timeout=60.0) as client:
            officers = Officers(client, self._author, self._approver)

            async def perform(moment: datetime, alert: PlannedAlert, kind: str) -> None:
                delay = (moment - window_start).total_seconds() / self._speed
                await asyncio.sleep(max(0.0, started + delay - time.monotonic()))
                if kind != "a":
                    await published[alert.number].wait()
                    if alert.number not in alert_ids:
                        return  # the alert itself failed; its error is counted
                async with limits:
                    # Checked once a slot is free: behind schedule, many wait for one.
                    if self._out_of_time(started):
                        if kind == "a":
                            published[alert.number].set()
                        return  # not sent, so not expected
                    try:
                        if kind == "a":
                            alert_ids[alert.number] = await self._publish(client, officers, alert)
                            self.state.alerts_done += 1
                            self.state.played_until = max(self.state.played_until, moment)
                        else:
                            await self._follow_up(client, officers, alert, alert_ids, kind)
                        self.state.actions_done += 1
                    except (httpx.HTTPError, ReplayError) as error:
                        # Not sent, so not expected: the error is reported instead of a loss.
                        self.state.sent.pop((alert.number, kind), None)
                        self.state.errors[f"{kind}:{type(error).__name__}"] += 1
                        self.state.errors["last:" + str(error)[:200]] = 1
                    finally:
                        if kind == "a":
                            published[alert.number].set()

            await asyncio.gather(*(perform(*action) for action in actions))

    def _out_of_time(self, started: float) -> bool:
        limit = self._publish_for_s
        return limit is not None and time.monotonic() - started > limit

    def _headline(self, alert: PlannedAlert, kind: str, text: str) -> str:
        return f"[R{self._run_id} {alert.number}{kind}] {text}"

    def _record(self, alert: PlannedAlert, kind: str) -> None:
        recipients = self._audience.of(alert)
        self.state.sent[(alert.number, kind)] = SentMessage(
            alert.number,
            kind,
            alert.severity,
            time.time(),
            self._audience.addresses(recipients, alert.severity),
        )

    async def _call(
        self,
        client: httpx.AsyncClient,
        officers: Officers,
        role: str,
        path: str,
        body: dict[str, Any] | None = None,
        expected: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=await officers.headers(role))
        if response.status_code not in expected:
            raise ReplayError(f"POST {path}: {response.status_code} {response.text[:300]}")
        result: dict[str, Any] = response.json()
        return result

    async def _publish(
        self, client: httpx.AsyncClient, officers: Officers, alert: PlannedAlert
    ) -> str:
        kind = alert.crime_type.replace("_", " ")
        created = await self._call(
            client,
            officers,
            "author",
            "/api/alerts/alerts",
            {
                "headline": self._headline(alert, "a", f"{kind.capitalize()} reported nearby"),
                "body": f"Replayed alert {alert.number}: {kind} reported in the area.",
                "crime_type": alert.crime_type,
                "severity": alert.severity,
                "urgency": "Immediate" if alert.severity == "Extreme" else "Expected",
                "channels": ["email", "push", "sms"],
                # Appeals and missing people need a way to answer (the alerts service checks).
                "contact": "Call 101 quoting the reference, or 999 in an emergency.",
                "reference": f"CAD {alert.number}/{alert.at:%d%b}",
                "target_ward_codes": alert.ward_codes,
                "target_borough_codes": alert.borough_codes if not alert.ward_codes else [],
                "no_victim_details_confirmed": True,
            },
        )
        alert_id = str(created["id"])
        if alert.needs_second_officer:
            await self._call(client, officers, "author", f"/api/alerts/alerts/{alert_id}/submit")
            await self._call(client, officers, "approver", f"/api/alerts/alerts/{alert_id}/approve")
        self._record(alert, "a")
        await self._call(client, officers, "author", f"/api/alerts/alerts/{alert_id}/publish")
        self.state.sent[(alert.number, "a")].published_at = time.time()
        return alert_id

    async def _follow_up(
        self,
        client: httpx.AsyncClient,
        officers: Officers,
        alert: PlannedAlert,
        alert_ids: dict[int, str],
        kind: str,
    ) -> None:
        alert_id = alert_ids[alert.number]
        path = f"/api/alerts/alerts/{alert_id}"
        if kind == "c":
            self._record(alert, "c")
            reason = {"reason": "Reported in error: please disregard the earlier alert."}
            await self._call(client, officers, "author", f"{path}/cancel", reason)
            self.state.sent[(alert.number, "c")].published_at = time.time()
            return
        body: dict[str, Any]
        if kind == "u":
            body = {
                "headline": self._headline(alert, "u", "Update: officers are in the area"),
                "body": "Officers are making enquiries. Thank you for your reports.",
                "no_victim_details_confirmed": True,
            }
            message = await self._call(client, officers, "author", f"{path}/updates", body)
        else:
            body = {
                "headline": self._headline(alert, "r", "Resolved: thank you"),
                "body": "A suspect has been arrested. Thank you.",
                "no_victim_details_confirmed": True,
            }
            message = await self._call(client, officers, "author", f"{path}/resolve", body)
        self._record(alert, kind)
        if message.get("status") == "submitted":
            # Extreme or cross-borough: the Update waits for a second officer's approval.
            await self._call(
                client, officers, "approver", f"/api/alerts/alerts/{message['id']}/approve"
            )
        self.state.sent[(alert.number, kind)].published_at = time.time()

    # --- watching the sinks -------------------------------------------------------------------

    async def clear_sinks(self) -> None:
        async with httpx.AsyncClient(timeout=30.0) as client:
            for url in (
                f"{self._sinks.smtp}/messages",
                f"{self._sinks.webpush}/messages",
                f"{self._sinks.fcm}/messages",
                f"{self._sinks.notify}/notifications",
            ):
                (await client.delete(url)).raise_for_status()

    def _match(self, text: str) -> tuple[int, str] | None:
        for found in TAG.finditer(text):
            if found["run"] != self._run_id:
                continue
            kind = "c" if found.group(1) else found["kind"]
            return (int(found["number"]), kind)
        return None

    def _take(self, channel: str, sink_id: str, recipient: str, text: str, at: str) -> None:
        if (channel, sink_id) in self.state.received:
            return
        key = self._match(text)
        if key is None:
            return
        moment = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        self.state.receive((channel, sink_id), Received(channel, recipient, key, moment))

    async def poll_sinks(self, client: httpx.AsyncClient) -> None:
        """Read what each sink received since the last poll (``after``: how many were seen)."""
        sinks = self._sinks
        urls = {
            "email": f"{sinks.smtp}/messages",
            "webpush": f"{sinks.webpush}/messages",
            "fcm": f"{sinks.fcm}/messages",
            "sms": f"{sinks.notify}/notifications",
        }
        answers = await asyncio.gather(
            *(client.get(url, params={"after": self._seen[name]}) for name, url in urls.items())
        )
        smtp, webpush, fcm, notify = (a.raise_for_status().json() for a in answers)
        for name, listed in zip(urls, (smtp, webpush, fcm, notify), strict=True):
            self._seen[name] += len(listed)
        for mail in smtp:
            for recipient in mail["rcpt_tos"]:
                self._take("email", mail["id"], recipient, subject_of(mail), mail["received_at"])
        for push in webpush:
            self._take(
                "webpush", push["id"], push["subscription_id"], push["payload"], push["received_at"]
            )
        for push in fcm:
            text = json.dumps(push["message"])
            self._take("fcm", push["name"], push["token"], text, push["received_at"])
        for sms in notify:
            if sms["type"] == "sms":
                text = json.dumps(sms["personalisation"])
                self._take("sms", sms["id"], sms["phone_number"], text, sms["created_at"])

    async def watch(
        self,
        playing: asyncio.Task[None],
        *,
        settle_s: float,
        interval_s: float,
        on_sample: Callable[[RunState], None],
        sample_processes: Callable[[], dict[str, dict[str, float]]],
    ) -> None:
        """Poll the sinks until the plan is played and every expected message has arrived, or
        nothing new has arrived for ``settle_s`` seconds after it was played."""
        started = time.monotonic()
        last_change = started
        last_count = -1
        async with httpx.AsyncClient(timeout=60.0) as client:
            while True:
                try:
                    await self.poll_sinks(client)
                except httpx.HTTPError as error:
                    self.state.errors[f"sink:{type(error).__name__}"] += 1
                now = time.monotonic()
                delivered = self.state.delivered_by_channel()
                self.state.samples.append(
                    {
                        "t": round(now - started, 3),
                        "delivered": dict(delivered),
                        "expected": self.state.expected_total(),
                        "backlog": self.state.backlog(),
                        "processes": sample_processes(),
                    }
                )
                on_sample(self.state)
                count = len(self.state.received)
                if count != last_count:
                    last_count, last_change = count, now
                if playing.done():
                    # All in: wait a little longer, for any copy that would arrive late.
                    all_in = self.state.backlog() == 0
                    if all_in and now - last_change > interval_s * 3:
                        return
                    if now - last_change > settle_s:
                        return
                await asyncio.sleep(interval_s)
