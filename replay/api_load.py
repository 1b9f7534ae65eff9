"""Locust, headless, against the embedded stack (or ``--host``): p50/p95/p99 and errors per route,
written to ``bench/results/api_load.json``.

    python -m replay.api_load                      # start a local stack, 50 users, 60 s
    python -m replay.api_load --host http://127.0.0.1:8000 --users 200 --run-time 120
    python -m replay.api_load --steps                # fixed rates: creates 50, 100, 200 a
                                                     # second, reads 100, 250, 500, 750 (each
                                                     # kind until a step has errors)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploy.devstack import StackOptions
from replay.cli import LOAD_TEST_RATE_LIMITS, REPO_ROOT, PatientStack, Target
from replay.report import load_average, machine

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
STEPS_LOCUSTFILE = Path(__file__).with_name("locust_steps.py")
# (user class in locust_steps.py, the rates to try in turn, in requests a second)
DEFAULT_STEPS = (("AlertCreator", (50, 100, 200)), ("Reader", (100, 250, 500, 750)))
DEFAULT_RESULTS = REPO_ROOT / "bench" / "results" / "api_load.json"


def run_locust(
    host: str,
    *,
    users: int,
    spawn_rate: float,
    run_time_s: int,
    locustfile: Path = LOCUSTFILE,
    user_classes: Sequence[str] = (),
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tawny-locust-") as work:
        prefix = Path(work) / "load"
        subprocess.run(  # noqa: S603 (our own locustfile, on 127.0.0.1)
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(locustfile),
                *user_classes,
                "--headless",
                "--host",
                host,
                "--users",
                str(users),
                "--spawn-rate",
                str(spawn_rate),
                "--run-time",
                f"{run_time_s}s",
                "--csv",
                str(prefix),
                "--only-summary",
            ],
            check=False,
            cwd=REPO_ROOT,
        )
        with Path(f"{prefix}_stats.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    routes = {}
    for row in rows:
        name = f"{row['Type']} {row['Name']}".strip()
        routes[name] = {
            "requests": int(row["Request Count"]),
            "errors": int(row["Failure Count"]),
            "requests_per_s": round(float(row["Requests/s"]), 2),
            "p50_ms": float(row["50%"] or 0),
            "p95_ms": float(row["95%"] or 0),
            "p99_ms": float(row["99%"] or 0),
        }
    return routes


def run_steps(host: str, pids: dict[str, int], *, step_s: int) -> list[dict[str, Any]]:
    """Each kind's rates in turn, stopping a kind at its first step with errors; beside each,
    the CPU of every platform process and of Locust itself over the step."""
    import resource

    import psutil

    from replay.locust_steps import REQUESTS_PER_USER

    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    steps = []
    for user_class, rates in DEFAULT_STEPS:
        for rate in rates:
            users = math.ceil(rate / REQUESTS_PER_USER)
            for process in processes.values():
                process.cpu_percent()
            locust_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            routes = run_locust(
                host,
                users=users,
                spawn_rate=users,
                run_time_s=step_s,
                locustfile=STEPS_LOCUSTFILE,
                user_classes=[user_class],
            )
            locust_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            locust_cpu = (locust_after.ru_utime + locust_after.ru_stime) - (
                locust_before.ru_utime + locust_before.ru_stime
            )
            measured = {n: f for n, f in routes.items() if n != "Aggregated"}
            step = {
                "kind": user_class,
                "target_requests_per_s": rate,
                "users": users,
                "requests_per_s": round(sum(f["requests_per_s"] for f in measured.values()), 1),
                "errors": sum(f["errors"] for f in measured.values()),
                "p99_ms": max((f["p99_ms"] for f in measured.values()), default=0.0),
                "routes": measured,
                "cpu_percent": {
                    **{n: round(p.cpu_percent(), 1) for n, p in processes.items()},
                    "locust": round(locust_cpu / step_s * 100, 1),
                },
                "load_average": load_average(),
            }
            steps.append(step)
            busiest = max(step["cpu_percent"].items(), key=lambda item: item[1])
            print(
                f"{user_class} at {rate}/s: {step['requests_per_s']}/s achieved, "
                f"p99 {step['p99_ms']:.0f} ms, {step['errors']} errors, busiest {busiest}",
                flush=True,
            )
            if step["errors"]:
                break
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="a running gateway; default: start a local stack")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--run-time", type=int, default=60, help="seconds")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--steps", action="store_true", help="fixed request rates per kind (local stack only)"
    )
    parser.add_argument("--step-time", type=int, default=30, help="seconds per step")
    parser.add_argument(
        "--stack", type=Path, help="a stack `python -m replay stack` keeps up (its gateway)"
    )
    args = parser.parse_args()
    steps: list[dict[str, Any]] = []
    if args.stack:
        target = Target.read(args.stack)
        if args.steps:
            steps = run_steps(target.gateway, target.pids, step_s=args.step_time)
        routes = run_locust(
            target.gateway, users=args.users, spawn_rate=args.spawn_rate, run_time_s=args.run_time
        )
    elif args.host:
        routes = run_locust(
            args.host, users=args.users, spawn_rate=args.spawn_rate, run_time_s=args.run_time
        )
    else:
        with tempfile.TemporaryDirectory(prefix="tawny-api-load-") as work_dir:
            options = StackOptions(
                work_dir=Path(work_dir),
                durable_postgres=False,
                extra_env=dict(LOAD_TEST_RATE_LIMITS),
            )
            options.ports = options.ports.free()
            with PatientStack(options).running() as stack:
                if args.steps:
                    pids = {p.name: p.process.pid for p in stack.processes}
                    steps = run_steps(stack.gateway_url, pids, step_s=args.step_time)
                routes = run_locust(
                    stack.gateway_url,
                    users=args.users,
                    spawn_rate=args.spawn_rate,
                    run_time_s=args.run_time,
                )
    result = {
        "users": args.users,
        "run_time_s": args.run_time,
        "routes": routes,
        "steps": steps,
        "machine": machine(),
        "load_average": load_average(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'route':<48} {'reqs':>7} {'err':>5} {'p50':>7} {'p95':>7} {'p99':>7}")
    for name, figures in routes.items():
        print(
            f"{name:<48} {figures['requests']:>7} {figures['errors']:>5} "
            f"{figures['p50_ms']:>7.0f} {figures['p95_ms']:>7.0f} {figures['p99_ms']:>7.0f}"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
