"""Locust, headless, against the embedded stack (or ``--host``): p50/p95/p99 and errors per route,
written to ``bench/results/api_load.json``.

    python -m replay.api_load                      # start a local stack, 50 users, 60 s
    python -m replay.api_load --host http://127.0.0.1:8000 --users 200 --run-time 120
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from deploy.devstack import StackOptions
from replay.cli import LOAD_TEST_RATE_LIMITS, REPO_ROOT, PatientStack
from replay.report import load_average, machine

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
DEFAULT_RESULTS = REPO_ROOT / "bench" / "results" / "api_load.json"


def run_locust(host: str, *, users: int, spawn_rate: float, run_time_s: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tawny-locust-") as work:
        prefix = Path(work) / "load"
        subprocess.run(  # noqa: S603 (our own locustfile, on 127.0.0.1)
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="a running gateway; default: start a local stack")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--run-time", type=int, default=60, help="seconds")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args()
    if args.host:
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
