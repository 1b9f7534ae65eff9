"""Email throughput of dispatch's delivery workers against a bare aiosmtplib sender, on one sink.

Every run sends one alert to N recipients through the local SMTP sink (``deploy.sinks.smtp``,
its own process):

- **dispatcher, 1 and 2 processes**: real dispatch processes (uvicorn, settings from the
  environment, as the dev stack runs them; send-only, ``DISPATCH_RUN_CONSUMERS=false``) drain N
  ``created`` delivery rows: claim, reload, render, send, record. The rows are written first with
  a ``next_attempt_at`` in the future and released by one UPDATE once the processes are up; the
  clock stops when the last row is ``sent``. Recording the batches (the Kafka consumer's part) is
  not in the timing: it is a few milliseconds per 500 recipients.
- **bare**: the least code that sends the same messages with the same pool size: as many
  aiosmtplib connections as ``DISPATCH_SEND_CONCURRENCY``, each sending its share in a loop, the
  messages built by the same rendering function. No database.

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
from services.dispatch.config import DEV_UNSUBSCRIBE_KEY, DispatchSettings
from services.dispatch.preferences.tokens import UnsubscribeLinks, UnsubscribeTokens
from shared import migrations
from shared.events import AlertContent

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO / "bench" / "results" / "dispatch.json"
POOL_SIZE = 8
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


async def stage_alert(url: str) -> uuid.UUID:
    """N ``created`` rows of a new alert, not yet due."""
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
            "next_attempt_at, attempts) SELECT gen_random_uuid(), $1, member_id, 'email', "
            "'created', 1, now() + interval '1 day', 0 FROM member_endpoints",
            alert.alert_id,
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
    count: int, url: str, env: dict[str, str], recipients: int, log_dir: Path
) -> dict[str, Any]:
    alert_id = asyncio.run(stage_alert(url))
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


def table(results: dict[str, Any]) -> str:
    email = results["channels"]["email"]
    ratio_met = "yes" if email["ratio"] >= RATIO_TARGET else "**no**"
    rss_met = "yes" if email["peak_rss_mb"] <= RSS_TARGET_MB else "**no**"
    return "\n".join(
        [
            "| email, one alert | msgs/s | CPU s per 1,000 | peak RSS per process MB |",
            "|---|---:|---:|---:|",
            f"| dispatch, 1 process | {email['msgs_per_s_1_worker']:.0f} "
            f"| {email['cpu_s_per_1000']:.2f} | {email['peak_rss_mb']:.0f} |",
            f"| dispatch, 2 processes | {email['msgs_per_s_2_workers']:.0f} "
            f"| {email['cpu_s_per_1000_2_workers']:.2f} "
            f"| {max(email['peak_rss_mb_2_workers']):.0f} |",
            f"| bare aiosmtplib, {POOL_SIZE} connections | {email['bare_msgs_per_s']:.0f} "
            f"| {email['bare_cpu_s_per_1000']:.2f} | |",
            "",
            "| measure | value | target | met |",
            "|---|---:|---|---|",
            f"| ratio dispatch (1 process) / bare | {email['ratio']:.2f} | ≥ {RATIO_TARGET} "
            f"| {ratio_met} |",
            f"| peak RSS per dispatcher | {email['peak_rss_mb']:.0f} MB | ≤ {RSS_TARGET_MB} MB "
            f"| {rss_met} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    recipients: int = args.recipients
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tawny-bench-dispatch-") as work:
        work_dir = Path(work)
        with (
            embedded_postgres(work_dir / "pg", durable=False) as postgres,
            embedded_kafka(work_dir / "kafka.log") as kafka,
        ):
            create_databases(postgres.url, ["bench_dispatch"])
            url = database_url_for(postgres.url, "bench_dispatch")
            migrations.upgrade("dispatch", url)
            asyncio.run(prepare(url, recipients))
            say(f"{recipients:,} members with an email endpoint")
            smtp_port, http_port = free_port(), free_port()
            sink = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                [sys.executable, "-m", "deploy.sinks.smtp", "--smtp-port", str(smtp_port),
                 "--http-port", str(http_port), "--max-messages", "1000"],
                cwd=REPO, env={**os.environ, "LOG_LEVEL": "WARNING"},
                stdout=(work_dir / "sink.log").open("ab"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                wait_for_port("127.0.0.1", smtp_port, 30, sink)
                env = {
                    **os.environ,
                    "TAWNY_ENV": "test",
                    "LOG_JSON": "true",
                    "LOG_LEVEL": "WARNING",
                    "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                    "KAFKA_ENABLE_IDEMPOTENCE": "false",
                    "DISPATCH_DATABASE_URL": url,
                    "DISPATCH_RUN_CONSUMERS": "false",
                    "DISPATCH_SMTP_HOST": "127.0.0.1",
                    "DISPATCH_SMTP_PORT": str(smtp_port),
                    "DISPATCH_SEND_CONCURRENCY": str(POOL_SIZE),
                }
                say("bare aiosmtplib baseline")
                bare_result = asyncio.run(bare(smtp_port, recipients))
                say(f"bare: {bare_result}")
                say("dispatch, 1 process")
                one = run_dispatchers(1, url, env, recipients, work_dir)
                say(f"1 process: {one}")
                say("dispatch, 2 processes")
                two = run_dispatchers(2, url, env, recipients, work_dir)
                say(f"2 processes: {two}")
            finally:
                sink.terminate()
                sink.wait(timeout=30)
    results = {
        "recipients": recipients,
        "channels": {
            "email": {
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
                "pool_size": POOL_SIZE,
            }
        },
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
