"""The gateway under load: what it costs per request against the least code that does the same
work, and how the platform's busiest routes hold at their target rates and at twice them.

Two parts, each with open-loop load at fixed rates (``bench.gateway.loadgen``) and short runs
(the machine is shared):

- **proxy**: the gateway (a uvicorn process as deployed, logs at INFO as JSON to /dev/null; and
  a second one at WARNING, to show what the request log costs) and the least-code proxy
  (``bench.gateway.leastproxy``) side by side, both in front of the same stand-in service
  (``bench.gateway.standin``), a signed-in GET of a 1 KB document through each (so the token is
  checked and nothing is cached), then the same GET anonymous through the gateway (served from
  its public-read cache). CPU per request of each proxy process, from /proc.
- **platform**: the dev stack (``deploy.devstack``, one worker per service, the gateway's rate
  limits raised so that no 429 hides anything), each route at its target rate from issue 21 and
  at twice it: successful throughput, p99 of the requests served, refusals (503 with
  Retry-After) and their p99, and CPU per request of the gateway and of each service.

    python -m bench.gateway [--parts proxy,platform] [--duration 5]

Writes ``bench/results/gateway.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.gateway.loadgen import Target, client_session, open_loop
from deploy import devstack
from deploy.devstack import DEMO_OFFICER, DEMO_RESIDENT, DevStack, Ports, StackOptions
from deploy.infra import free_port, wait_for_port
from tests.support import tokens

RESULTS = Path(__file__).resolve().parents[1] / "results" / "gateway.json"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FEED = "/api/alerts/feeds/wards/E05000001.json"
# No 429 may hide the behaviour under load: every request comes from one address and account.
UNLIMITED = {
    "GATEWAY_RATE_LIMIT_PER_IP_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "100000",
    "GATEWAY_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_ACCOUNT_BURST": "100000",
}


def cpu_seconds(pid: int) -> float:
    """User and system CPU of one process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> list[float]:
    return [float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


async def measured_run(
    label: str, target: Target, *, rate: float, duration_s: float, processes: dict[str, int]
) -> dict[str, Any]:
    """One open-loop run, with the CPU each process (and the load generator) spent on it."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    client_before = own_cpu_seconds()
    async with client_session() as session:
        result = await open_loop(session, target, rate=rate, duration_s=duration_s)
    summary = result.summary()
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in processes.items()}
    # Per request answered (any status): a request that timed out may not have been read yet.
    answered = max(1, sum(n for status, n in result.statuses.items() if status.isdigit()))
    summary["cpu_ms_per_request"] = {
        name: round(s * 1000 / answered, 3) for name, s in spent.items()
    }
    summary["load_generator_cpu_ms_per_request"] = round(
        (own_cpu_seconds() - client_before) * 1000 / max(1, result.sent), 3
    )
    summary["loadavg"] = load_average()
    say(
        f"{label:<34} {rate:>5.0f}/s: served {summary['served_per_s']}/s, "
        f"p99 {summary['p99_ms']} ms, refused {summary['refused']} "
        f"(p99 {summary['refused_p99_ms']} ms), statuses {summary['statuses']}, "
        f"CPU ms/request {summary['cpu_ms_per_request']}"
    )
    return summary


@contextlib.contextmanager
def started(command: list[str], port: int, env: dict[str, str]) -> Iterator[int]:
    process = subprocess.Popen(  # noqa: S603 - our own modules, run with this interpreter
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port("127.0.0.1", port, 60, process)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def gateway_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "services.gateway.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


async def proxy_part(rate: float, duration_s: float, rounds: int) -> dict[str, Any]:
    standin_port, gateway_port, quiet_port, least_port = (free_port() for _ in range(4))
    standin = f"http://127.0.0.1:{standin_port}"
    env = {**os.environ, "TAWNY_ENV": "development", "LOG_JSON": "true", **UNLIMITED}
    env.update(
        {f"GATEWAY_{name}_URL": standin for name in ("IDENTITY", "ALERTS", "GEO", "DISPATCH")}
    )
    least = [
        sys.executable, "-m", "bench.gateway.leastproxy", "--port", str(least_port),
        "--jwks-url", f"{standin}/.well-known/jwks.json",
        *(arg for name in ("identity", "alerts", "geo", "dispatch")
          for arg in ("--upstream", f"{name}={standin}")),
    ]  # fmt: skip
    signed_in = {"Authorization": f"Bearer {tokens.make_token(member_id=uuid.uuid4())}"}
    runs: dict[str, Any] = {}
    jwks = tempfile.NamedTemporaryFile(suffix=".json")  # noqa: SIM115 - closed below
    jwks.write(json.dumps(tokens.jwks()).encode())
    jwks.flush()
    with (
        jwks,
        started([sys.executable, "-m", "bench.gateway.standin", "--port", str(standin_port),
                 "--jwks", jwks.name], standin_port, env) as standin_pid,
        started(gateway_command(gateway_port), gateway_port, {**env, "LOG_LEVEL": "INFO"}) as gw,
        started(gateway_command(quiet_port), quiet_port, {**env, "LOG_LEVEL": "WARNING"}) as quiet,
        started(least, least_port, env) as least_pid,
    ):  # fmt: skip
        cases = [
            ("least-code proxy, signed in", least_port, signed_in, least_pid),
            ("gateway, signed in", gateway_port, signed_in, gw),
            ("gateway (WARNING logs), signed in", quiet_port, signed_in, quiet),
            ("gateway, anonymous (cached)", gateway_port, {}, gw),
        ]
        for _label, port, headers, _ in cases:
            # Warm-up: connections, the JWKS, the first cache fill.
            url = f"http://127.0.0.1:{port}{FEED}"
            await open_loop_quietly(Target("GET", url, headers), rate)
        # Interleaved rounds, so that a burst of other work on the shared machine falls on every
        # case alike rather than on one; each case's figure is its median round.
        for round_number in range(1, rounds + 1):
            for label, port, headers, pid in cases:
                runs.setdefault(label, []).append(
                    await measured_run(
                        f"{label} #{round_number}",
                        Target("GET", f"http://127.0.0.1:{port}{FEED}", headers),
                        rate=rate,
                        duration_s=duration_s,
                        processes={"proxy": pid, "standin": standin_pid},
                    )
                )
    return {"rate": rate, "rounds": runs, **cpu_summary(runs)}


# A round whose requests were not all answered was starved of CPU (the load generator or the
# proxy waited for a core): its CPU per answered request counts the idle background over few
# answers, so only whole rounds, in which every case was served in full, are compared.
WHOLE_ROUND_SHARE = 0.95


def cpu_summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median CPU per request of each case over the rounds every case served in full, and the
    ratio of each to the least-code proxy's."""
    rounds = len(next(iter(runs.values())))
    whole = [
        index
        for index in range(rounds)
        if all(
            case[index]["served"] >= WHOLE_ROUND_SHARE * case[index]["sent"]
            for case in runs.values()
        )
    ] or list(range(rounds))
    median_cpu = {
        label: statistics.median(case[index]["cpu_ms_per_request"]["proxy"] for index in whole)
        for label, case in runs.items()
    }
    least_cpu = median_cpu["least-code proxy, signed in"]
    return {
        "whole_rounds": [index + 1 for index in whole],
        "median_cpu_ms_per_request": median_cpu,
        "gateway_over_least_code": {
            label: round(cpu / least_cpu, 2) for label, cpu in median_cpu.items() if least_cpu
        },
    }


async def open_loop_quietly(target: Target, rate: float) -> None:
    async with client_session() as session:
        await open_loop(session, target, rate=min(rate, 100), duration_s=1)


# (label, method, path, who, target rate from issue 21)
PLATFORM_ROUTES = (
    ("ward JSON feed, anonymous", "GET", "/api/alerts/feeds/wards/{ward}.json", None, 500),
    ("GET /api/geo/wards?limit=20", "GET", "/api/geo/wards?limit=20", None, 250),
    ("resident inbox", "GET", "/api/dispatch/inbox", "resident", 250),
    ("/api/identity/members/me", "GET", "/api/identity/members/me", "resident", 200),
    ("create a draft alert", "POST", "/api/alerts/alerts", "officer", 200),
)


def sign_in(gateway_url: str, email: str, password: str) -> str:
    with httpx.Client(base_url=gateway_url, timeout=10) as client:
        answer = client.post("/api/identity/tokens", json={"email": email, "password": password})
        token: str = answer.raise_for_status().json()["access_token"]
        return token


def _patient_wait_for_port(
    host: str, port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    wait_for_port(host, port, max(timeout_s, 120), process)


class PatientDevStack(DevStack):
    """The dev stack, given longer to become ready (consumers joining their groups) on a crowded
    machine."""

    def wait_until_ready(self, timeout_s: float) -> None:
        super().wait_until_ready(max(timeout_s, 300))


def platform_part(duration_s: float) -> dict[str, Any]:
    """The dev stack starts outside the event loop (it runs its own for set-up steps)."""
    # On the shared machine a dozen Python processes starting at once can each take longer
    # than the dev stack's 30 s to listen; the bench waits longer rather than fail.
    devstack.wait_for_port = _patient_wait_for_port  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="tawny-bench-gateway-") as work_dir:
        options = StackOptions.from_environment(
            ports=Ports.free(), work_dir=Path(work_dir), extra_env=dict(UNLIMITED), progress=False
        )
        say("starting the dev stack (PostgreSQL, broker, migrations, demo data)")
        with PatientDevStack(options).running() as stack:
            assert stack.demo_ward is not None
            ward = stack.demo_ward[0]
            bearer = {
                "resident": sign_in(stack.gateway_url, *DEMO_RESIDENT),
                "officer": sign_in(stack.gateway_url, *DEMO_OFFICER),
            }
            processes = {
                p.name: p.process.pid
                for p in stack.processes
                if p.name in ("gateway", "identity", "alerts", "geo", "dispatch")
            }
            return asyncio.run(
                platform_routes(stack.gateway_url, ward, bearer, processes, duration_s)
            )


async def platform_routes(
    gateway_url: str,
    ward: str,
    bearer: dict[str, str],
    processes: dict[str, int],
    duration_s: float,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    draft = {
        "headline": "Bench: burglaries reported overnight",
        "body": "Several sheds were broken into. Please lock garden buildings.",
        "crime_type": "burglary",
        "severity": "Moderate",
        "urgency": "Expected",
        "target_ward_codes": [ward],
        "no_victim_details_confirmed": True,
    }
    for label, method, path, who, target_rate in PLATFORM_ROUTES:
        headers = {"Authorization": f"Bearer {bearer[who]}"} if who else {}
        target = Target(
            method,
            gateway_url + path.format(ward=ward),
            headers,
            draft if method == "POST" else None,
        )
        await open_loop_quietly(target, target_rate)
        results[label] = {
            "target_rate": target_rate,
            "at_target": await measured_run(
                label, target, rate=target_rate, duration_s=duration_s, processes=processes
            ),
            "at_twice": await measured_run(
                label + " (2x)",
                target,
                rate=2 * target_rate,
                duration_s=duration_s,
                processes=processes,
            ),
        }
        await asyncio.sleep(2)  # let queues drain before the next route
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="proxy,platform")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--proxy-rate", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the proxy comparison")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    report: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    report.update(
        machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        loadavg_at_start=load_average(),
        duration_s_per_run=args.duration,
    )
    # Each part keeps its own date: a run of one part leaves the other's results as they were.
    if "proxy" in parts:
        report["proxy"] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            **asyncio.run(proxy_part(args.proxy_rate, args.duration, args.rounds)),
        }
    if "platform" in parts:
        report["platform"] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "routes": platform_part(args.duration),
        }
    report["loadavg_at_end"] = load_average()
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    say(f"written to {RESULTS}")
    if "proxy" in parts:
        ratios = report["proxy"]["gateway_over_least_code"]
        say(f"gateway CPU per request / least-code proxy: {ratios}")
    return 0
