"""The production image (deploy/Dockerfile): linted with hadolint, its Python stage reproduced
here (what it installs from uv.lock runs every service without the dev and dev-stack
groups), and built with Docker where a daemon answers (none does on the development machine,
and its base images come from a registry this machine cannot reach)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
BIN = Path(sys.executable).parent
# What runs in the image: each service's app, the migrations in the init containers, the
# operators' commands, and the OTLP exporter that tracing imports only when it is on.
PRODUCTION_MODULES = [
    "services.identity.app",
    "services.alerts.app",
    "services.geo.app",
    "services.dispatch.app",
    "services.gateway.app",
    "shared.migrations",
    "deploy.deadletters",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
]


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = BIN / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_copies_only_what_exists_and_what_it_runs() -> None:
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), flags=re.M)
    sources = [source for line in copied for source in line.split()]
    assert all((ROOT / source).exists() for source in sources), sources
    assert {"shared", "services", "deploy"} <= set(sources)


def test_the_images_dependencies_run_every_service(tmp_path: Path) -> None:
    """``uv sync --no-default-groups`` as the Dockerfile runs it: a module that imports a
    test or dev-stack library at run time (pgserver, pytest) fails here, not in production."""
    uv = ROOT / ".tools" / "bin" / "uv"
    environment = tmp_path / "venv"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(environment),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    subprocess.run(
        [str(uv), "sync", "--frozen", "--no-default-groups", "--no-install-project", "--quiet"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    installed = subprocess.run(
        [str(environment / "bin" / "python"), "-m", "pip", "--version"],
        capture_output=True,
    )
    assert installed.returncode != 0, "the image's environment has no pip, nor needs one"
    for library in ("pytest", "pgserver", "hypothesis"):
        probe = subprocess.run(
            [str(environment / "bin" / "python"), "-c", f"import {library}"],
            capture_output=True,
        )
        assert probe.returncode != 0, f"{library} is a dev dependency, not the image's"
    imports = subprocess.run(
        [
            str(environment / "bin" / "python"),
            "-c",
            "import importlib, sys\nfor name in sys.argv[1:]: importlib.import_module(name)",
            *PRODUCTION_MODULES,
        ],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert imports.returncode == 0, imports.stderr


def docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True).returncode == 0


@pytest.mark.skipif(not docker_answers(), reason="no Docker daemon on this machine")
def test_the_image_builds() -> None:
    subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "-t", "tawny:test", str(ROOT)],
        check=True,
        timeout=1800,
    )
