"""`make run` as a newcomer meets it: `python -m deploy.devstack` on embedded infrastructure
reports the platform ready with the demo logins, restarts a service killed with -9 while the
rest keeps running, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deploy.devstack import DEMO_OFFICER, DEMO_RESIDENT, REPO_ROOT

pytestmark = pytest.mark.e2e

# Backstops against a stack that never comes up, not speed requirements: a loaded machine
# only makes startup slower. The first restart comes after 1 s; the service then needs its
# own start-up time.
READY_WITHIN_S = 600
RESTARTED_WITHIN_S = 300


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


def service_pids(pids: set[int], app: str) -> set[int]:
    """The processes among ``pids`` running ``app`` (a uvicorn factory such as
    ``services.dispatch.app``)."""
    found = set()
    for pid in pids:
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.decode(errors="replace").startswith(app) for part in command):
            found.add(pid)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# `--base-port B` listens on B..B+4 (the services) and B+25..B+28 (the sinks); SMTP goes on
# B+29 here.
SMTP_OFFSET = 29
STACK_PORT_OFFSETS = (0, 1, 2, 3, 4, 25, 26, 27, 28, SMTP_OFFSET)


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block() -> int:
    """A base port whose whole block is free, below the kernel's ephemeral range (32768 and up
    on Linux): an outgoing connection to PostgreSQL or the broker could otherwise take one of
    the block's ports between this check and the sink binding it."""
    for _ in range(200):
        base = random.randrange(20000, 32000)
        if all(bindable(base + offset) for offset in STACK_PORT_OFFSETS):
            return base
    raise AssertionError("no free block of ports for the dev stack")


class TestDevStackCommand:
    def test_starts_ready_restarts_a_killed_service_and_stops_cleanly(self, tmp_path: Path) -> None:
        base_port = free_port_block()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
        }
        output_path = tmp_path / "devstack.out"
        with output_path.open("wb") as output:
            supervisor = subprocess.Popen(
                [sys.executable, "-m", "deploy.devstack", "--work-dir", str(tmp_path / "stack"),
                 "--base-port", str(base_port), "--smtp-port", str(base_port + SMTP_OFFSET)],
                cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                started = time.monotonic()
                while "Press Ctrl-C" not in output_path.read_text(errors="replace"):
                    assert supervisor.poll() is None, output_path.read_text()
                    assert time.monotonic() - started < READY_WITHIN_S, output_path.read_text()
                    time.sleep(0.5)
                readiness = httpx.get(f"http://127.0.0.1:{base_port}/readyz", timeout=5)

                [dispatch] = service_pids(descendants(supervisor.pid), "services.dispatch.app")
                os.kill(dispatch, signal.SIGKILL)
                killed_at = time.monotonic()
                restarted: set[int] = set()
                ready_again = False
                while not (restarted and ready_again):
                    assert supervisor.poll() is None, output_path.read_text()
                    assert time.monotonic() - killed_at < RESTARTED_WITHIN_S, (
                        output_path.read_text()
                    )
                    time.sleep(0.5)
                    restarted = service_pids(
                        descendants(supervisor.pid), "services.dispatch.app"
                    ) - {dispatch}
                    ready_again = _dispatch_ready(base_port)
                children = descendants(supervisor.pid)
            finally:
                supervisor.send_signal(signal.SIGINT)
                supervisor.wait(timeout=60)

        printed = output_path.read_text()
        assert readiness.status_code == 200, readiness.text
        assert f"{DEMO_OFFICER[0]} / {DEMO_OFFICER[1]}" in printed
        assert f"{DEMO_RESIDENT[0]} / {DEMO_RESIDENT[1]}" in printed
        assert f"http://127.0.0.1:{base_port}/" in printed
        assert "dispatch exited with -9; restarting in 1s" in printed
        assert "dispatch restarted" in printed
        assert supervisor.returncode == 0, printed
        assert len(children) >= 7  # postgres, the broker, the sink and five services
        assert [pid for pid in children if alive(pid)] == []


def _dispatch_ready(base_port: int) -> bool:
    """Dispatch's own readiness (the first dispatcher listens on the base port + 4)."""
    try:
        return httpx.get(f"http://127.0.0.1:{base_port + 4}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
