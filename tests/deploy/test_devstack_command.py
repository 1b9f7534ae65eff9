"""`make run` as a newcomer meets it: `python -m deploy.devstack` on embedded infrastructure
reports the platform ready with the demo logins, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deploy.devstack import DEMO_OFFICER, DEMO_RESIDENT, REPO_ROOT
from deploy.infra import free_port

pytestmark = pytest.mark.e2e

READY_WITHIN_S = 90


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class TestDevStackCommand:
    def test_starts_ready_with_demo_logins_and_stops_cleanly(self, tmp_path: Path) -> None:
        base_port = free_port()
        while base_port > 60000:
            base_port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
        }
        output_path = tmp_path / "devstack.out"
        with output_path.open("wb") as output:
            supervisor = subprocess.Popen(
                [sys.executable, "-m", "deploy.devstack", "--work-dir", str(tmp_path / "stack"),
                 "--base-port", str(base_port), "--smtp-port", str(free_port())],
                cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                started = time.monotonic()
                while "Press Ctrl-C" not in output_path.read_text(errors="replace"):
                    assert supervisor.poll() is None, output_path.read_text()
                    assert time.monotonic() - started < READY_WITHIN_S, output_path.read_text()
                    time.sleep(0.5)
                readiness = httpx.get(f"http://127.0.0.1:{base_port}/readyz", timeout=5)
                children = descendants(supervisor.pid)
            finally:
                supervisor.send_signal(signal.SIGINT)
                supervisor.wait(timeout=60)

        printed = output_path.read_text()
        assert readiness.status_code == 200, readiness.text
        assert f"{DEMO_OFFICER[0]} / {DEMO_OFFICER[1]}" in printed
        assert f"{DEMO_RESIDENT[0]} / {DEMO_RESIDENT[1]}" in printed
        assert f"http://127.0.0.1:{base_port}/" in printed
        assert supervisor.returncode == 0, printed
        assert len(children) >= 7  # postgres, the broker, the sink and five services
        assert [pid for pid in children if alive(pid)] == []
