"""The gateway's errors; each renders as problem+json through ``shared.errors``.

Failures to reach a service are ``UpstreamError``s with the status a client can act on
(503: try again later, 504: it was too slow, 502: it answered with something unusable), so an
upstream failure never shows up as a 500 from the gateway.
"""

from __future__ import annotations

from typing import Any

from shared.errors import TawnyError


class GatewayError(TawnyError):
    status_code = 400
    slug = "gateway-bad-request"
    title = "Bad request"


class UnknownServiceError(GatewayError):
    status_code = 404
    slug = "unknown-service"
    title = "No such service"

    def __init__(self, service: str, known: list[str]) -> None:
        super().__init__(
            f"there is no service called {service!r} behind /api/", known_services=known
        )


class InvalidPathError(GatewayError):
    status_code = 400
    slug = "invalid-path"
    title = "The request path is not valid"


class InternalEndpointError(GatewayError):
    status_code = 404
    slug = "internal-endpoint"
    title = "Not available through the gateway"

    def __init__(self, service: str, path: str) -> None:
        super().__init__(f"/{path} of the {service} service is for operators inside the cluster")


class InvalidContentLengthError(GatewayError):
    status_code = 400
    slug = "invalid-content-length"
    title = "The Content-Length header is not valid"


class RequestTooLargeError(GatewayError):
    status_code = 413
    slug = "request-too-large"
    title = "The request body is too large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            f"request bodies may be at most {limit_bytes} bytes", max_body_bytes=limit_bytes
        )


class UpstreamError(GatewayError):
    """The service answered with something the gateway could not pass on (broken connection,
    malformed HTTP)."""

    status_code = 502
    slug = "bad-gateway"
    title = "Bad gateway"

    def __init__(self, service: str, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(
            detail or f"the {service} service gave an unusable answer",
            service=service,
            **extensions,
        )
        self.service = service


class UpstreamUnavailableError(UpstreamError):
    status_code = 503
    slug = "service-unavailable"
    title = "Service unavailable"

    def __init__(self, service: str) -> None:
        super().__init__(service, f"the {service} service is unavailable")


class UpstreamBusyError(UpstreamError):
    """The service already has as many requests in progress through this gateway as it may:
    refused at once rather than queued behind them."""

    status_code = 503
    slug = "overloaded"
    title = "Too busy"

    def __init__(self, service: str, retry_after_s: int) -> None:
        super().__init__(
            service,
            f"the {service} service is at its limit of requests in progress; try again shortly",
            headers={"Retry-After": str(retry_after_s)},
            retry_after_s=retry_after_s,
        )


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    slug = "gateway-timeout"
    title = "Gateway timeout"

    def __init__(self, service: str) -> None:
        super().__init__(service, f"the {service} service did not answer in time")


class RateLimitedError(GatewayError):
    status_code = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, scope: str, retry_after_s: int) -> None:
        super().__init__(
            f"too many requests from this {scope}; try again in {retry_after_s} seconds",
            headers={"Retry-After": str(retry_after_s)},
            limited_by=scope,
            retry_after_s=retry_after_s,
        )
