"""Dispatch against the limit: per channel, the dispatcher (1, 2 and 4 processes) and the least
code that does the same work (:mod:`bench.dispatch.baseline`), in one run, against the same sink.

    python -m bench.dispatch --recipients 20000 [--channels email,webpush,fcm] [--runs 2]

Every measurement sends one alert to N recipients through the channel's local sink, its own
process: ``deploy.sinks.smtp --headers-only`` (parsing each message would cost the sink more
than the sender spends, so the run would measure the sink), ``deploy.sinks.webpush`` (checks
each VAPID token and decrypts each push), ``deploy.sinks.fcm`` (checks each access token).

- **limit**: the least-code sender (no database, nothing rendered per recipient, aiohttp or
  persistent aiosmtplib connections), with the same pool size as the dispatcher.
- **dispatcher, 1, 2 and 4 processes**: real dispatch processes (uvicorn, settings from the
  environment, as the dev stack runs them; send-only, ``DISPATCH_RUN_CONSUMERS=false``) drain N
  ``created`` delivery rows: claim, load, render, send, record. The rows are written first with
  a ``next_attempt_at`` in the future and released by one UPDATE once the processes are up; the
  clock stops when the last row is ``sent``.

Measured each time: messages per second; CPU seconds per 1,000 messages of the senders (all
dispatcher processes together, or the baseline's) and of the sink; peak RSS per dispatcher.
``cpu_over_limit`` is the dispatcher's CPU per 1,000 (one process) over the limit's. With
``--runs 2`` the whole measurement is repeated (a fresh database each time); ``channels`` holds
the last run, ``runs`` every run with the load average before and after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from py_vapid import Vapid02  # type: ignore[import-untyped]

from bench.dispatch import baseline
from deploy.infra import (
    create_databases,
    database_url_for,
    embedded_kafka,
    embedded_postgres,
    free_port,
    wait_for_port,
)
from deploy.sinks.fcm import new_service_account
from services.dispatch.channels.webpush import (
    PushSubscription,
    VapidSigner,
    subscription_address,
)
from services.dispatch.config import DEV_UNSUBSCRIBE_KEY, DispatchSettings, new_vapid_private_key
from services.dispatch.deliveries.repository import DELIVERIES_DUE_CHANNEL
from shared import migrations
from shared.events import AlertContent

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO / "bench" / "results" / "dispatch.json"
CHANNELS = ("email", "webpush", "fcm")
PROCESSES = (1, 2, 4)
CPU_OVER_LIMIT_TARGET = 1.5
WEBPUSH_RATE_TARGET = 1000
RSS_TARGET_MB = 200
FCM_PROJECT = "tawny-bench"
IDLE_SAMPLE_S = 5.0
VAPID_SUBJECT = baseline.VAPID_SUBJECT


def say(message: str) -> None:
    print(f"[bench-dispatch {time.strftime('%H:%M:%S')}] {message}", flush=True)


def alert() -> AlertContent:
    return AlertContent(
        alert_id=uuid.uuid4(),
        headline="Sheds broken into on Acacia Avenue overnight",
        body="Several garden sheds were broken into overnight and bicycles taken.\n\n"
        "Please lock your sheds and report anything suspicious on 101.",
        category="burglary",
        severity="Moderate",
        urgency="Expected",
        sender_name="Hackney Police",
        sent_at=datetime.now(UTC),
    )


def plain_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def add_endpoints(url: str, channel: str, addresses: list[str]) -> None:
    """One member per address, with a verified endpoint on the channel."""
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute(
            "INSERT INTO member_endpoints (id, member_id, channel, address, verified_at) "
            "SELECT gen_random_uuid(), gen_random_uuid(), $1, address, now() "
            "FROM unnest($2::text[]) AS address",
            channel,
            addresses,
        )
    finally:
        await connection.close()


async def subscribe_browsers(
    url: str, sink_url: str, recipients: int, application_server_key: str
) -> list[str]:
    """N members, each with a web push subscription the sink made (it holds the private keys).
    Returns the stored addresses."""
    addresses: list[str] = []
    async with httpx.AsyncClient(base_url=sink_url, timeout=120) as sink:
        while len(addresses) < recipients:
            count = min(5000, recipients - len(addresses))
            response = await sink.post(
                "/subscriptions/batch",
                json={"count": count, "application_server_key": application_server_key},
            )
            response.raise_for_status()
            for browser in response.json():
                addresses.append(
                    subscription_address(
                        PushSubscription(
                            browser["endpoint"], browser["keys"]["p256dh"], browser["keys"]["auth"]
                        )
                    )
                )
    await add_endpoints(url, "webpush", addresses)
    return addresses


async def stage_alert(url: str, channel: str) -> uuid.UUID:
    """One ``created`` row per member with an endpoint on the channel, not yet due."""
    alert_content = alert()
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute(
            "INSERT INTO dispatch_alerts (alert_id, content, priority, deliver_until) "
            "VALUES ($1, $2::jsonb, 1, now() + interval '1 day')",
            alert_content.alert_id,
            alert_content.model_dump_json(),
        )
        await connection.execute(
            "INSERT INTO deliveries (id, alert_id, member_id, channel, endpoint_id, status, "
            "priority, next_attempt_at, attempts) SELECT gen_random_uuid(), $1, member_id, "
            "channel, id, 'created', 1, now() + interval '1 day', 0 FROM member_endpoints "
            "WHERE channel = $2",
            alert_content.alert_id,
            channel,
        )
    finally:
        await connection.close()
    return alert_content.alert_id


async def release_and_wait(url: str, alert_id: uuid.UUID, recipients: int) -> float:
    connection = await asyncpg.connect(plain_url(url))
    try:
        started = time.perf_counter()
        # Due now, announced as a recorded batch is: the dispatchers' idle workers wake at once.
        async with connection.transaction():
            await connection.execute(
                "UPDATE deliveries SET next_attempt_at = now() WHERE alert_id = $1", alert_id
            )
            await connection.execute("SELECT pg_notify($1, '')", DELIVERIES_DUE_CHANNEL)
        while True:
            # Is any row left to send? One row looked up in each of the claim and in-flight
            # partial indexes (no other alert has such rows here). Counting the sent rows read
            # every row of the alert ten times a second: at 100,000 that cost PostgreSQL about
            # as much CPU as the dispatcher spent.
            left = await connection.fetchval(
                "SELECT (SELECT id FROM deliveries WHERE status = 'created' "
                "ORDER BY priority, next_attempt_at LIMIT 1) IS NOT NULL "
                "OR (SELECT id FROM deliveries WHERE status = 'sending' "
                "ORDER BY claimed_at LIMIT 1) IS NOT NULL"
            )
            if not left:
                elapsed = time.perf_counter() - started
                break
            await asyncio.sleep(0.1)
        sent = await connection.fetchval(
            "SELECT count(*) FROM deliveries WHERE alert_id = $1 AND status = 'sent'", alert_id
        )
        if sent < recipients:
            # Say where they ended, so that a broken run can be read without its database.
            ended = await connection.fetch(
                "SELECT status, min(last_error) AS example, count(*) FROM deliveries "
                "WHERE alert_id = $1 AND status <> 'sent' GROUP BY status",
                alert_id,
            )
            raise RuntimeError(
                f"{recipients - sent} deliveries were not sent: "
                + "; ".join(f"{r['count']} {r['status']} ({r['example']})" for r in ended)
            )
        return elapsed
    finally:
        await connection.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of a live process (Linux /proc)."""
    # The command name, in parentheses, may hold spaces: the fields after it are fixed.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def dispatchers(count: int, env: dict[str, str], log_dir: Path) -> Iterator[list[int]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(count):
            port = free_port()
            log = (log_dir / f"dispatch-{index}.log").open("ab")
            command = [
                sys.executable, "-m", "uvicorn", "services.dispatch.app:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                "--log-level", "warning",
            ]  # fmt: skip
            processes.append(
                subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                    command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
            wait_for_port("127.0.0.1", port, 300, processes[-1])
            deadline = time.monotonic() + 300
            while httpx.get(f"http://127.0.0.1:{port}/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("a dispatcher never became ready")
                time.sleep(0.2)
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


# Set by --profile: where py-spy writes a profile of each one-process dispatcher run.
PROFILE_DIR: list[Path] = []


@contextmanager
def profiled(pid: int, name: str) -> Iterator[None]:
    """py-spy sampling the process while the block runs (with --profile); then the functions
    that were running most often, with their share of the samples, printed and saved."""
    if not PROFILE_DIR:
        yield
        return
    raw = PROFILE_DIR[0] / f"{name}.txt"
    spy = subprocess.Popen(  # noqa: S603 (our own tool and arguments)
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", "100",
         "--format", "raw", "--output", str(raw), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    if raw.exists():
        summary = top_functions(raw)
        (PROFILE_DIR[0] / f"{name}-top.txt").write_text(summary)
        say(f"profile of {name}:\n{summary}")


def top_functions(raw: Path, count: int = 15) -> str:
    """From py-spy's collapsed stacks: the share of samples in which each function was running
    (the innermost frame), and in which each file appeared anywhere on the stack."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _space, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        number = int(samples)
        total += number
        frames = stack.split(";")
        leaf[frames[-1]] += number
        for module in {frame.split("(", 1)[-1].split(":", 1)[0] for frame in frames}:
            inclusive[module] += number
    if not total:
        return "no samples"
    lines = [f"{100 * n / total:5.1f} %  {name}" for name, n in leaf.most_common(count)]
    lines.append("-- files on the stack (inclusive) --")
    lines += [f"{100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(count)]
    return "\n".join(lines)


def run_dispatchers(
    count: int,
    url: str,
    env: dict[str, str],
    recipients: int,
    log_dir: Path,
    channel: str,
    sink_pid: int,
) -> dict[str, Any]:
    alert_id = asyncio.run(stage_alert(url, channel))
    with dispatchers(count, env, log_dir) as pids:
        # What the processes spend with nothing to send (pollers, sweeper, outbox relay,
        # reporter): on a box so loaded that a run takes minutes, it is a visible share.
        idle_before = sum(cpu_s(pid) for pid in pids)
        time.sleep(IDLE_SAMPLE_S)
        idle_cpu_per_s = (sum(cpu_s(pid) for pid in pids) - idle_before) / IDLE_SAMPLE_S
        cpu_before = sum(cpu_s(pid) for pid in pids)
        sink_before = cpu_s(sink_pid)
        with profiled(pids[0], f"{channel}-{count}") if count == 1 else nullcontext():
            elapsed = asyncio.run(release_and_wait(url, alert_id, recipients))
        cpu = sum(cpu_s(pid) for pid in pids) - cpu_before
        sink_cpu = cpu_s(sink_pid) - sink_before
        rss = [round(peak_rss_mb(pid), 1) for pid in pids]
    return {
        "msgs_per_s": round(recipients / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "cpu_s_per_1000": round(cpu / recipients * 1000, 3),
        "idle_cpu_s_per_s": round(idle_cpu_per_s, 4),
        "cpu_s_per_1000_net_of_idle": round(
            max(0.0, cpu - idle_cpu_per_s * elapsed) / recipients * 1000, 3
        ),
        "sink_cpu_s_per_1000": round(sink_cpu / recipients * 1000, 3),
        "peak_rss_mb": rss,
    }


def sink_process(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", *command],
        cwd=REPO,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )


@contextmanager
def running(process: subprocess.Popen[bytes], port: int) -> Iterator[subprocess.Popen[bytes]]:
    try:
        wait_for_port("127.0.0.1", port, 60, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def measure(
    name: str,
    *,
    sink_pid: int,
    recipients: int,
    limit: Callable[[], dict[str, Any]],
    dispatcher: Callable[[int], dict[str, Any]],
    processes: tuple[int, ...],
    pool_size: int,
) -> dict[str, Any]:
    """The limit, then the dispatcher with each number of processes, on one sink."""
    say(f"{name}: least-code baseline")
    sink_before = cpu_s(sink_pid)
    limit_result = limit()
    limit_result["sink_cpu_s_per_1000"] = round(
        (cpu_s(sink_pid) - sink_before) / recipients * 1000, 3
    )
    say(f"{name} limit: {limit_result}")
    runs: dict[int, dict[str, Any]] = {}
    for count in processes:
        runs[count] = dispatcher(count)
        say(f"{name}, {count} dispatcher process(es): {runs[count]}")
    one = runs[processes[0]]
    result: dict[str, Any] = {
        "recipients": recipients,
        "pool_size": pool_size,
        "msgs_per_s_1_worker": one["msgs_per_s"],
        "cpu_s_per_1000": one["cpu_s_per_1000"],
        "limit_msgs_per_s": limit_result["msgs_per_s"],
        "limit_cpu_s_per_1000": limit_result["cpu_s_per_1000"],
        "cpu_over_limit": round(one["cpu_s_per_1000"] / limit_result["cpu_s_per_1000"], 2),
        "idle_cpu_s_per_s": one["idle_cpu_s_per_s"],
        "cpu_s_per_1000_net_of_idle": one["cpu_s_per_1000_net_of_idle"],
        "cpu_over_limit_net_of_idle": round(
            one["cpu_s_per_1000_net_of_idle"] / limit_result["cpu_s_per_1000"], 2
        ),
        "peak_rss_mb": max(one["peak_rss_mb"]),
        "sink_cpu_s_per_1000": one["sink_cpu_s_per_1000"],
        "limit_sink_cpu_s_per_1000": limit_result["sink_cpu_s_per_1000"],
    }
    for count, run in runs.items():
        if count == processes[0]:
            continue
        result[f"msgs_per_s_{count}_workers"] = run["msgs_per_s"]
        result[f"cpu_s_per_1000_{count}_workers"] = run["cpu_s_per_1000"]
        result[f"peak_rss_mb_{count}_workers"] = max(run["peak_rss_mb"])
        result[f"sink_cpu_s_per_1000_{count}_workers"] = run["sink_cpu_s_per_1000"]
    result["date"] = datetime.now(UTC).date().isoformat()
    return result


def bench_email(
    url: str, env: dict[str, str], recipients: int, work_dir: Path, processes: tuple[int, ...]
) -> dict[str, Any]:
    addresses = [f"bench-{index}@example.org" for index in range(recipients)]
    asyncio.run(add_endpoints(url, "email", addresses))
    say(f"{recipients:,} members with an email endpoint")
    smtp_port, http_port = free_port(), free_port()
    command = ["deploy.sinks.smtp", "--smtp-port", str(smtp_port), "--http-port", str(http_port),
               "--max-messages", "1000", "--headers-only"]  # fmt: skip
    with running(sink_process(command, work_dir / "smtp-sink.log"), smtp_port) as sink:
        env = {
            **env,
            "DISPATCH_SMTP_HOST": "127.0.0.1",
            "DISPATCH_SMTP_PORT": str(smtp_port),
            "DISPATCH_SEND_CONCURRENCY": str(baseline.POOL_SIZE),
        }
        base_url = DispatchSettings().public_base_url
        return measure(
            "email",
            sink_pid=sink.pid,
            recipients=recipients,
            limit=lambda: asyncio.run(
                baseline.email(
                    smtp_port,
                    alert(),
                    addresses,
                    base_url=base_url,
                    key=DEV_UNSUBSCRIBE_KEY.encode(),
                )
            ),
            dispatcher=lambda count: run_dispatchers(
                count, url, env, recipients, work_dir, "email", sink.pid
            ),
            processes=processes,
            pool_size=baseline.POOL_SIZE,
        )


def bench_webpush(
    url: str, env: dict[str, str], recipients: int, work_dir: Path, processes: tuple[int, ...]
) -> dict[str, Any]:
    vapid_private_key = new_vapid_private_key()
    application_server_key = VapidSigner(
        Vapid02.from_string(vapid_private_key), VAPID_SUBJECT
    ).application_server_key
    port = free_port()
    command = ["deploy.sinks.webpush", "--port", str(port), "--max-messages", "1000"]
    with running(sink_process(command, work_dir / "webpush-sink.log"), port) as sink:
        addresses = asyncio.run(
            subscribe_browsers(url, f"http://127.0.0.1:{port}", recipients, application_server_key)
        )
        say(f"{recipients:,} members with a web push subscription")
        env = {
            **env,
            "DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY": vapid_private_key,
            "DISPATCH_WEBPUSH_CONCURRENCY": str(baseline.WEBPUSH_POOL_SIZE),
        }
        subscriptions = [json.loads(address) for address in addresses]
        return measure(
            "web push",
            sink_pid=sink.pid,
            recipients=recipients,
            limit=lambda: asyncio.run(baseline.webpush(alert(), subscriptions, vapid_private_key)),
            dispatcher=lambda count: run_dispatchers(
                count, url, env, recipients, work_dir, "webpush", sink.pid
            ),
            processes=processes,
            pool_size=baseline.WEBPUSH_POOL_SIZE,
        )


def bench_fcm(
    url: str, env: dict[str, str], recipients: int, work_dir: Path, processes: tuple[int, ...]
) -> dict[str, Any]:
    key_file = work_dir / "fcm-service-account.json"
    service_account = new_service_account(key_file, project_id=FCM_PROJECT)
    tokens = [f"bench-registration-{index}-{uuid.uuid4().hex}" for index in range(recipients)]
    asyncio.run(add_endpoints(url, "fcm", tokens))
    say(f"{recipients:,} members with an FCM registration token")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = ["deploy.sinks.fcm", "--port", str(port), "--service-account", str(key_file),
               "--project-id", FCM_PROJECT]  # fmt: skip
    with running(sink_process(command, work_dir / "fcm-sink.log"), port) as sink:
        env = {
            **env,
            "DISPATCH_FCM_BASE_URL": base_url,
            "DISPATCH_FCM_TOKEN_URL": f"{base_url}/token",
            "DISPATCH_FCM_PROJECT_ID": FCM_PROJECT,
            "DISPATCH_FCM_SERVICE_ACCOUNT_FILE": str(key_file),
            "DISPATCH_FCM_CONCURRENCY": str(baseline.FCM_POOL_SIZE),
        }
        return measure(
            "FCM",
            sink_pid=sink.pid,
            recipients=recipients,
            limit=lambda: asyncio.run(
                baseline.fcm(
                    alert(),
                    tokens,
                    service_account=service_account,
                    base_url=base_url,
                    project_id=FCM_PROJECT,
                )
            ),
            dispatcher=lambda count: run_dispatchers(
                count, url, env, recipients, work_dir, "fcm", sink.pid
            ),
            processes=processes,
            pool_size=baseline.FCM_POOL_SIZE,
        )


BENCHES = {"email": bench_email, "webpush": bench_webpush, "fcm": bench_fcm}
LABELS = {"email": "email", "webpush": "web push", "fcm": "FCM"}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def table(channels: dict[str, Any], processes: tuple[int, ...]) -> str:
    lines = [
        "| channel | sender | msgs/s | CPU s per 1,000 | sink CPU s per 1,000 | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, r in channels.items():
        label = LABELS[name]
        lines.append(
            f"| {label} | least code | {r['limit_msgs_per_s']:.0f} "
            f"| {r['limit_cpu_s_per_1000']:.2f} | {r['limit_sink_cpu_s_per_1000']:.2f} | |"
        )
        for count in processes:
            suffix = "" if count == processes[0] else f"_{count}_workers"
            rate = r["msgs_per_s_1_worker"] if not suffix else r[f"msgs_per_s{suffix}"]
            lines.append(
                f"| {label} | dispatch, {count} process{'es' if count > 1 else ''} | {rate:.0f} "
                f"| {r[f'cpu_s_per_1000{suffix}']:.2f} | {r[f'sink_cpu_s_per_1000{suffix}']:.2f} "
                f"| {r[f'peak_rss_mb{suffix}']:.0f} |"
            )
    lines += [
        "",
        "| channel | CPU over limit (target ≤ 1.5) | met | net of idle background | met |",
        "|---|---:|---|---:|---|",
    ]
    for name, r in channels.items():
        met = "yes" if r["cpu_over_limit"] <= CPU_OVER_LIMIT_TARGET else "**no**"
        net = r["cpu_over_limit_net_of_idle"]
        net_met = "yes" if net <= CPU_OVER_LIMIT_TARGET else "**no**"
        lines.append(
            f"| {LABELS[name]} | {r['cpu_over_limit']:.2f} | {met} | {net:.2f} | {net_met} |"
        )
    return "\n".join(lines)


def one_run(
    channels: list[str], recipients: int, processes: tuple[int, ...], number: int
) -> dict[str, Any]:
    before = load_average()
    measured: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tawny-bench-dispatch-") as work:
        work_dir = Path(work)
        with (
            embedded_postgres(work_dir / "pg", durable=False) as postgres,
            embedded_kafka(work_dir / "kafka.log") as kafka,
        ):
            create_databases(postgres.url, ["bench_dispatch"])
            url = database_url_for(postgres.url, "bench_dispatch")
            migrations.upgrade("dispatch", url)
            env = {
                **os.environ,
                "TAWNY_ENV": "test",
                "LOG_JSON": "true",
                "LOG_LEVEL": "WARNING",
                "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "KAFKA_ENABLE_IDEMPOTENCE": "false",
                "DISPATCH_DATABASE_URL": url,
                "DISPATCH_RUN_CONSUMERS": "false",
            }
            for name in channels:
                say(f"run {number}: {name}, load average {load_average()}")
                measured[name] = BENCHES[name](url, env, recipients, work_dir, processes)
    return {"load_average_before": before, "load_average_after": load_average(),
            "channels": measured}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--recipients", type=int, default=20_000, help="per channel and sender")
    parser.add_argument(
        "--channels", default=",".join(CHANNELS), help=f"some of {', '.join(CHANNELS)}"
    )
    parser.add_argument(
        "--processes",
        default=",".join(map(str, PROCESSES)),
        help="dispatcher process counts to measure, the first one the headline figure",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole measurement")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--profile", type=Path, help="profile each one-process dispatcher run with py-spy here"
    )
    args = parser.parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR.append(args.profile)
    channels = [name.strip() for name in args.channels.split(",") if name.strip()]
    if not channels or set(channels) - set(CHANNELS):
        parser.error(f"--channels takes some of {', '.join(CHANNELS)}")
    processes = tuple(int(count) for count in args.processes.split(","))
    total = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for number in range(1, args.runs + 1):
        runs.append(one_run(channels, args.recipients, processes, number))
        results = {
            "recipients": args.recipients,
            "channels": runs[-1]["channels"],
            "runs": runs,
            "machine": (
                f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
                f"{platform.release()}, Python {platform.python_version()}"
            ),
            "date": datetime.now(UTC).date().isoformat(),
            "total_s": round(time.perf_counter() - total, 1),
        }
        # Written after every run, so that a long benchmark cut short keeps what it measured.
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    for number, run in enumerate(runs, start=1):
        print(
            f"\nrun {number}: load average {run['load_average_before']} before, "
            f"{run['load_average_after']} after; {args.recipients:,} recipients per sender"
        )
        print(table(run["channels"], processes))
    print(f"\nwritten to {args.output}; whole run {results['total_s']:.0f} s")
    return 0
