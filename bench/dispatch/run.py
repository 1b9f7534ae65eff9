"""Throughput of dispatch's delivery workers against a bare sender on the same sink, per channel:
email (a bare aiosmtplib sender, the SMTP sink) and web push (a bare httpx sender, the push sink).

Every run sends one alert to N recipients through the channel's local sink, its own process
(``deploy.sinks.smtp``; ``deploy.sinks.webpush``, which checks each VAPID token and decrypts
each push):

- **dispatcher, 1 and 2 processes**: real dispatch processes (uvicorn, settings from the
  environment, as the dev stack runs them; send-only, ``DISPATCH_RUN_CONSUMERS=false``) drain N
  ``created`` delivery rows: claim, reload, render, send, record. The rows are written first with
  a ``next_attempt_at`` in the future and released by one UPDATE once the processes are up; the
  clock stops when the last row is ``sent``. Recording the batches (the Kafka consumer's part) is
  not in the timing: it is a few milliseconds per 500 recipients.
- **bare**: the least code that sends the same messages with the same pool size: for email, as
  many aiosmtplib connections as ``DISPATCH_SEND_CONCURRENCY``, each sending its share in a loop,
  the messages built by the same rendering function; for web push, as many loops as
  ``DISPATCH_WEBPUSH_CONCURRENCY`` over one httpx client with that many connections, each
  encrypting (http-ece, the same payload function) and POSTing its share with one VAPID header
  signed once (as dispatch reuses its token). No database.

``--channels`` picks the channels (both by default); the results of a channel not run are kept
from the previous file, each channel with its own ``recipients`` and ``date``.

Measured per run: messages per second; CPU seconds per 1,000 messages of the sending processes
(the dispatchers', or the bare sender's); peak RSS of each dispatcher process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import httpx
from py_vapid import Vapid02  # type: ignore[import-untyped]

from deploy.infra import (
    create_databases,
    database_url_for,
    embedded_kafka,
    embedded_postgres,
    free_port,
    wait_for_port,
)
from services.dispatch.channels.base import Recipient
from services.dispatch.channels.email import EmailChannel, SmtpServer
from services.dispatch.channels.webpush import (
    PushSubscription,
    VapidSigner,
    _payload,
    encrypt,
    push_urgency,
    subscription_address,
)
from services.dispatch.config import DEV_UNSUBSCRIBE_KEY, DispatchSettings, new_vapid_private_key
from services.dispatch.preferences.tokens import UnsubscribeLinks, UnsubscribeTokens
from shared import migrations
from shared.events import AlertContent

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO / "bench" / "results" / "dispatch.json"
POOL_SIZE = 8
# The default DISPATCH_WEBPUSH_CONCURRENCY: HTTP requests are cheap to keep in flight.
WEBPUSH_POOL_SIZE = 32
VAPID_SUBJECT = "mailto:alerts@tawny.london"
CHANNELS = ("email", "webpush")
RATIO_TARGET = 0.7
RSS_TARGET_MB = 200


def say(message: str) -> None:
    print(f"[bench-dispatch {time.strftime('%H:%M:%S')}] {message}", flush=True)


def content() -> AlertContent:
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


async def prepare(url: str, recipients: int) -> None:
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute(
            "INSERT INTO member_endpoints (member_id, channel, address, verified_at) "
            "SELECT gen_random_uuid(), 'email', 'bench-' || g || '@example.org', now() "
            "FROM generate_series(1, $1) AS g",
            recipients,
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
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.executemany(
            "INSERT INTO member_endpoints (member_id, channel, address, verified_at) "
            "VALUES (gen_random_uuid(), 'webpush', $1, now())",
            [(address,) for address in addresses],
        )
    finally:
        await connection.close()
    return addresses


async def stage_alert(url: str, channel: str) -> uuid.UUID:
    """One ``created`` row per member with an endpoint on the channel, not yet due."""
    alert = content()
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute(
            "INSERT INTO dispatch_alerts (alert_id, content, priority, deliver_until) "
            "VALUES ($1, $2::jsonb, 1, now() + interval '1 day')",
            alert.alert_id,
            alert.model_dump_json(),
        )
        await connection.execute(
            "INSERT INTO deliveries (id, alert_id, member_id, channel, status, priority, "
            "next_attempt_at, attempts) SELECT gen_random_uuid(), $1, member_id, channel, "
            "'created', 1, now() + interval '1 day', 0 FROM member_endpoints WHERE channel = $2",
            alert.alert_id,
            channel,
        )
    finally:
        await connection.close()
    return alert.alert_id


async def release_and_wait(url: str, alert_id: uuid.UUID, recipients: int) -> float:
    connection = await asyncpg.connect(plain_url(url))
    try:
        started = time.perf_counter()
        await connection.execute(
            "UPDATE deliveries SET next_attempt_at = now() WHERE alert_id = $1", alert_id
        )
        while True:
            sent = await connection.fetchval(
                "SELECT count(*) FROM deliveries WHERE alert_id = $1 AND status = 'sent'",
                alert_id,
            )
            if sent >= recipients:
                return time.perf_counter() - started
            failed = await connection.fetchval(
                "SELECT count(*) FROM deliveries WHERE alert_id = $1 AND status = 'failed'",
                alert_id,
            )
            if failed:
                raise RuntimeError(f"{failed} deliveries failed")
            await asyncio.sleep(0.1)
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
            wait_for_port("127.0.0.1", port, 60, processes[-1])
            deadline = time.monotonic() + 60
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


def run_dispatchers(
    count: int, url: str, env: dict[str, str], recipients: int, log_dir: Path, channel: str
) -> dict[str, Any]:
    alert_id = asyncio.run(stage_alert(url, channel))
    with dispatchers(count, env, log_dir) as pids:
        cpu_before = sum(cpu_s(pid) for pid in pids)
        elapsed = asyncio.run(release_and_wait(url, alert_id, recipients))
        cpu = sum(cpu_s(pid) for pid in pids) - cpu_before
        rss = [round(peak_rss_mb(pid), 1) for pid in pids]
    return {
        "msgs_per_s": round(recipients / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "cpu_s_per_1000": round(cpu / recipients * 1000, 3),
        "peak_rss_mb": rss,
    }


async def bare(port: int, recipients: int) -> dict[str, Any]:
    channel = EmailChannel(
        SmtpServer(host="127.0.0.1", port=port, starttls=False, timeout_s=10),
        email_from="Tawny alerts <alerts@tawny.london>",
        concurrency=POOL_SIZE,
        # The same one-click unsubscribe headers and links the dispatchers sign.
        unsubscribe=UnsubscribeLinks(
            DispatchSettings().public_base_url, UnsubscribeTokens(DEV_UNSUBSCRIBE_KEY.encode())
        ),
    )
    alert = content()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(recipients):
        queue.put_nowait(index)

    async def connection_loop() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench")
        await client.connect()
        try:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                address = f"bare-{index}@example.org"
                message = channel.alert_message(
                    alert, Recipient(uuid.uuid4(), uuid.uuid4(), address)
                )
                await client.send_message(message, sender=channel.sender_address)
        finally:
            await client.quit()

    cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(connection_loop() for _ in range(POOL_SIZE)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    return {
        "msgs_per_s": round(recipients / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "cpu_s_per_1000": round(cpu / recipients * 1000, 3),
    }


async def bare_webpush(
    addresses: list[str], vapid_private_key: str, recipients: int
) -> dict[str, Any]:
    alert = content()
    payload = _payload(alert)
    subscriptions = [json.loads(address) for address in addresses]
    origin = subscriptions[0]["endpoint"].split("/push/", 1)[0]
    vapid = Vapid02.from_string(vapid_private_key)
    authorization = vapid.sign(
        {"aud": origin, "sub": VAPID_SUBJECT, "exp": int(time.time()) + 12 * 3600}
    )["Authorization"]
    headers = {
        "Authorization": authorization,
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": "86400",
        "Urgency": push_urgency(alert),
        "Topic": alert.alert_id.hex,
    }
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(recipients):
        queue.put_nowait(index)

    async with httpx.AsyncClient(
        timeout=10,
        limits=httpx.Limits(
            max_connections=WEBPUSH_POOL_SIZE, max_keepalive_connections=WEBPUSH_POOL_SIZE
        ),
    ) as client:

        async def sender_loop() -> None:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                data = subscriptions[index]
                subscription = PushSubscription(
                    data["endpoint"], data["keys"]["p256dh"], data["keys"]["auth"]
                )
                response = await client.post(
                    subscription.endpoint,
                    content=encrypt(payload, subscription),
                    headers=headers,
                )
                if response.status_code != 201:
                    raise RuntimeError(f"the push sink answered {response.status_code}")

        cpu_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(sender_loop() for _ in range(WEBPUSH_POOL_SIZE)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    return {
        "msgs_per_s": round(recipients / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "cpu_s_per_1000": round(cpu / recipients * 1000, 3),
    }


LABELS = {
    "email": ("email", f"bare aiosmtplib, {POOL_SIZE} connections"),
    "webpush": ("web push", f"bare httpx + http-ece, {WEBPUSH_POOL_SIZE} connections"),
}


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for name, result in results["channels"].items():
        label, bare_label = LABELS[name]
        ratio_met = "yes" if result["ratio"] >= RATIO_TARGET else "**no**"
        rss_met = "yes" if result["peak_rss_mb"] <= RSS_TARGET_MB else "**no**"
        lines += [
            f"| {label}, one alert to {result.get('recipients', results['recipients']):,} "
            "| msgs/s | CPU s per 1,000 | peak RSS per process MB |",
            "|---|---:|---:|---:|",
            f"| dispatch, 1 process | {result['msgs_per_s_1_worker']:.0f} "
            f"| {result['cpu_s_per_1000']:.2f} | {result['peak_rss_mb']:.0f} |",
            f"| dispatch, 2 processes | {result['msgs_per_s_2_workers']:.0f} "
            f"| {result['cpu_s_per_1000_2_workers']:.2f} "
            f"| {max(result['peak_rss_mb_2_workers']):.0f} |",
            f"| {bare_label} | {result['bare_msgs_per_s']:.0f} "
            f"| {result['bare_cpu_s_per_1000']:.2f} | |",
            "",
            "| measure | value | target | met |",
            "|---|---:|---|---|",
            f"| ratio dispatch (1 process) / bare | {result['ratio']:.2f} | ≥ {RATIO_TARGET} "
            f"| {ratio_met} |",
            f"| peak RSS per dispatcher | {result['peak_rss_mb']:.0f} MB | ≤ {RSS_TARGET_MB} MB "
            f"| {rss_met} |",
            "",
        ]
    return "\n".join(lines)


def channel_result(
    one: dict[str, Any], two: dict[str, Any], bare_result: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "msgs_per_s_1_worker": one["msgs_per_s"],
        "msgs_per_s_2_workers": two["msgs_per_s"],
        "bare_msgs_per_s": bare_result["msgs_per_s"],
        "ratio": round(one["msgs_per_s"] / bare_result["msgs_per_s"], 3),
        "ratio_2_workers": round(two["msgs_per_s"] / bare_result["msgs_per_s"], 3),
        "cpu_s_per_1000": one["cpu_s_per_1000"],
        "cpu_s_per_1000_2_workers": two["cpu_s_per_1000"],
        "bare_cpu_s_per_1000": bare_result["cpu_s_per_1000"],
        "peak_rss_mb": one["peak_rss_mb"][0],
        "peak_rss_mb_2_workers": two["peak_rss_mb"],
        **extra,
        "date": datetime.now(UTC).date().isoformat(),
    }


def sink_process(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", *command],
        cwd=REPO,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )


def bench_email(url: str, env: dict[str, str], recipients: int, work_dir: Path) -> dict[str, Any]:
    asyncio.run(prepare(url, recipients))
    say(f"{recipients:,} members with an email endpoint")
    smtp_port, http_port = free_port(), free_port()
    sink = sink_process(
        ["deploy.sinks.smtp", "--smtp-port", str(smtp_port), "--http-port", str(http_port),
         "--max-messages", "1000"],
        work_dir / "smtp-sink.log",
    )  # fmt: skip
    try:
        wait_for_port("127.0.0.1", smtp_port, 30, sink)
        env = {
            **env,
            "DISPATCH_SMTP_HOST": "127.0.0.1",
            "DISPATCH_SMTP_PORT": str(smtp_port),
            "DISPATCH_SEND_CONCURRENCY": str(POOL_SIZE),
        }
        say("email: bare aiosmtplib baseline")
        bare_result = asyncio.run(bare(smtp_port, recipients))
        say(f"email bare: {bare_result}")
        one = run_dispatchers(1, url, env, recipients, work_dir, "email")
        say(f"email, 1 process: {one}")
        two = run_dispatchers(2, url, env, recipients, work_dir, "email")
        say(f"email, 2 processes: {two}")
    finally:
        sink.terminate()
        sink.wait(timeout=30)
    return channel_result(one, two, bare_result, pool_size=POOL_SIZE, recipients=recipients)


def bench_webpush(url: str, env: dict[str, str], recipients: int, work_dir: Path) -> dict[str, Any]:
    vapid_private_key = new_vapid_private_key()
    application_server_key = VapidSigner(
        Vapid02.from_string(vapid_private_key), VAPID_SUBJECT
    ).application_server_key
    port = free_port()
    sink = sink_process(
        ["deploy.sinks.webpush", "--port", str(port), "--max-messages", "1000"],
        work_dir / "webpush-sink.log",
    )
    try:
        wait_for_port("127.0.0.1", port, 30, sink)
        addresses = asyncio.run(
            subscribe_browsers(url, f"http://127.0.0.1:{port}", recipients, application_server_key)
        )
        say(f"{recipients:,} members with a web push subscription")
        env = {
            **env,
            "DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY": vapid_private_key,
            "DISPATCH_WEBPUSH_CONCURRENCY": str(WEBPUSH_POOL_SIZE),
        }
        say("web push: bare httpx + http-ece baseline")
        bare_result = asyncio.run(bare_webpush(addresses, vapid_private_key, recipients))
        say(f"web push bare: {bare_result}")
        one = run_dispatchers(1, url, env, recipients, work_dir, "webpush")
        say(f"web push, 1 process: {one}")
        two = run_dispatchers(2, url, env, recipients, work_dir, "webpush")
        say(f"web push, 2 processes: {two}")
    finally:
        sink.terminate()
        sink.wait(timeout=30)
    return channel_result(one, two, bare_result, pool_size=WEBPUSH_POOL_SIZE, recipients=recipients)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument(
        "--channels",
        default=",".join(CHANNELS),
        help="comma-separated channels to measure (email, webpush); others keep their results",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    recipients: int = args.recipients
    channels = [name.strip() for name in args.channels.split(",") if name.strip()]
    unknown = set(channels) - set(CHANNELS)
    if unknown or not channels:
        parser.error(f"--channels takes some of {', '.join(CHANNELS)}")
    previous: dict[str, Any] = {}
    if args.output.exists():
        previous = json.loads(args.output.read_text())
    total = time.perf_counter()
    measured: dict[str, dict[str, Any]] = {}
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
            if "email" in channels:
                measured["email"] = bench_email(url, env, recipients, work_dir)
            if "webpush" in channels:
                measured["webpush"] = bench_webpush(url, env, recipients, work_dir)
    kept = {
        name: result
        for name, result in previous.get("channels", {}).items()
        if name not in measured
    }
    results = {
        # The size of the channels measured in this run; each channel also has its own.
        "recipients": recipients if not kept else previous.get("recipients", recipients),
        "channels": {**kept, **measured},
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}"
        ),
        "date": datetime.now(UTC).date().isoformat(),
        "total_s": round(time.perf_counter() - total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {args.output}; whole run {results['total_s']:.0f} s")
    return 0
