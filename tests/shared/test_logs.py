"""Logs are JSON lines, tracebacks included: what an operator's log pipeline can parse."""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from shared.logs import configure_logging, get_logger


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the standard library's and structlog's configuration back after the test."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.asgi")]
    saved_uvicorn = [(lg.handlers[:], lg.propagate) for lg in uvicorn_loggers]
    yield None
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
