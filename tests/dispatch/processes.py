"""Real dispatcher processes for the tests that need them (a kill -9, two replicas sharing a
rate limit): run as devstack runs them (uvicorn, settings from the environment), send-only
(``DISPATCH_RUN_CONSUMERS=false``) on a database of the test's own, so they share no consumer
group with the in-process app of the other tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from deploy.infra import free_port
from tests.support.infrastructure import Infrastructure

REPO_ROOT = Path(__file__).resolve().parents[2]


def dispatcher_environment(
    infrastructure: Infrastructure, *, kafka_namespace: str, database_url: str, **settings: str
) -> dict[str, str]:
    """The environment of a send-only dispatcher on ``database_url``; ``settings`` are
    ``DISPATCH_*`` variables without their prefix (``SMTP_PORT="1025"``)."""
    return {
        **os.environ,
        "TAWNY_ENV": "test",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "KAFKA_ENABLE_IDEMPOTENCE": str(infrastructure.kafka_enable_idempotence).lower(),
        "KAFKA_NAMESPACE": kafka_namespace,
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_RUN_CONSUMERS": "false",
        "DISPATCH_SMTP_HOST": "127.0.0.1",
        **{f"DISPATCH_{name}": value for name, value in settings.items()},
    }


class Dispatcher:
    """One dispatcher process, started and killed by the test."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = env
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    def start(self) -> None:
        port = self.port = free_port()
        with self._log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "services.dispatch.app:create_app",
                 "--factory", "--host", "127.0.0.1", "--port", str(port),
                 "--no-access-log", "--log-level", "warning"],
                cwd=REPO_ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    async def ready(self) -> bool:
        """Its lifespan has started (workers included) and it answers /readyz."""
        assert self.running(), self.log_tail()
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                response = await client.get(f"http://127.0.0.1:{self.port}/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def log_tail(self) -> str:
        return self._log_path.read_text()[-3000:]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
