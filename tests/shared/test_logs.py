"""Logs are JSON lines, tracebacks included: what an operator's log pipeline can parse."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import logging.config
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from shared.logs import configure_logging, get_logger
from tests.support.waiting import eventually


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the standard library's and structlog's configuration back after the test."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.asgi")]
    saved_uvicorn = [(lg.handlers[:], lg.propagate) for lg in uvicorn_loggers]
    hooks = (sys.excepthook, threading.excepthook)
    yield None
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
    root.handlers, root.level = saved[0], saved[1]
    for logger, (handlers, propagate) in zip(uvicorn_loggers, saved_uvicorn, strict=True):
        logger.handlers, logger.propagate = handlers, propagate
    structlog.reset_defaults()


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must parse


def fail() -> None:
    raise ValueError("the database said no")


class TestJsonLogs:
    def test_uvicorns_traceback_is_one_json_line(
        self, restored_logging: object, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # What the uvicorn command line does before the app (and our configuration) exists.
        from uvicorn.config import LOGGING_CONFIG

        logging.config.dictConfig(LOGGING_CONFIG)
        configure_logging("tests")
        try:
            fail()
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")

        [line] = json_lines(capsys.readouterr().err)
        assert line["event"] == "Exception in ASGI application"
        assert line["service"] == "tests"
        assert line["level"] == "error"
        [exception] = line["exception"]
        assert exception["exc_type"] == "ValueError"
        assert exception["exc_value"] == "the database said no"
        assert exception["frames"][-1]["name"] == "fail"

    def test_our_own_exceptions_are_json_too(
        self, restored_logging: object, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging("tests")
        try:
            fail()
        except ValueError:
            get_logger("tests").exception("tests.something.failed", alert_id="a1")

        [line] = json_lines(capsys.readouterr().err)
        assert line["event"] == "tests.something.failed"
        assert line["alert_id"] == "a1"
        assert "ValueError" in json.dumps(line["exception"])
        assert sys.exc_info() == (None, None, None)


class TestTraceIds:
    def test_a_line_logged_in_a_span_names_its_trace(
        self, restored_logging: object, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging("tests")
        tracer = TracerProvider().get_tracer("tests")
        with tracer.start_as_current_span("work") as span:
            get_logger("tests").info("tests.inside_a_span")
        get_logger("tests").info("tests.outside_any_span")

        inside, outside = json_lines(capsys.readouterr().err)
        assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
        assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
        assert "trace_id" not in outside


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TestARealServiceProcess:
    """uvicorn as the services run it, its app failing in each way that used to leave
    plain-text lines in a service's log (tests/support/json_log_app.py): every line of its
    stderr must be one JSON object, tracebacks as fields."""

    async def test_every_line_it_writes_is_json_whatever_fails(self, tmp_path: Path) -> None:
        port = free_port()
        stderr = tmp_path / "stderr.log"
        with stderr.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "uvicorn"),
                "tests.support.json_log_app:create_app",
                "--factory",
                "--port",
                str(port),
                "--no-access-log",
                stdout=sink,
                stderr=sink,
            )
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                    async def started() -> bool:
                        with contextlib.suppress(httpx.TransportError):
                            return (await client.get("/healthz")).status_code == 200
                        return False

                    await eventually(started)
                    assert (await client.get("/unhandled")).status_code == 500
                    for route in ("/forgotten-task", "/library-logs", "/thread"):
                        assert (await client.get(route)).status_code == 200
            finally:
                process.terminate()
                async with asyncio.timeout(30):
                    await process.wait()

        lines = json_lines(stderr.read_text())
        events = {line["event"].splitlines()[0]: line for line in lines}
        for failure in (
            "Exception in ASGI application",  # uvicorn's, after the 500 went out
            "Task exception was never retrieved",  # asyncio's
            "a library's own message",  # any standard-library logger's
            "thread.uncaught_exception",  # an exception that ended a thread
        ):
            assert "RuntimeError" in json.dumps(events[failure]["exception"]), failure
        assert any("UserWarning" in event for event in events)
        assert "Shutting down" in events
