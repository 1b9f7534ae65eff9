"""Overload is refused, not queued: a bound on the requests one process works on at once.

Past the bound a request is answered at once with 503, ``Retry-After`` and a problem+json body,
before any routing, parsing or database work. A queue in front of a saturated process only adds
its length to every caller's wait until they all time out; refusing the excess keeps the
requests that are served fast, and tells clients (and the gateway) when to come back.
"""

from __future__ import annotations

import json
from typing import Final

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE
from shared.logs import get_logger

log = get_logger(__name__)

REFUSED_REQUESTS = Counter(
    "tawny_http_requests_refused_total",
    "Requests answered 503 at once because the process was at its concurrency bound",
    ["scope"],
)

# Probes and scrapes must keep answering under load, or the orchestrator would take a busy
# (but healthy) replica out of service and make the overload worse.
OPERATIONAL_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})


def overload_problem(detail: str, retry_after_s: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a 503 overload problem, ready to send."""
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + "overloaded",
            "title": "Too busy",
            "status": 503,
            "detail": detail,
            "retry_after_s": retry_after_s,
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after_s).encode()),
    ]
    return headers, body


class ConcurrencyLimitMiddleware:
    """At most ``max_in_flight`` HTTP requests at once in this process; the rest get 503.

    One counter, no lock: the event loop runs one callback at a time."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._refusal = overload_problem(
            "the server is at its limit of requests in progress; try again shortly", retry_after_s
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPERATIONAL_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            REFUSED_REQUESTS.labels("process").inc()
            headers, body = self._refusal
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
