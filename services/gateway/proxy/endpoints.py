"""/api/{service}/{path}: the platform's one public origin for the services' APIs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.types import Receive, Scope, Send

from services.gateway.caching import (
    CONDITIONAL_HEADERS,
    PRIVATE,
    CachedReply,
    anonymous,
    cache_key,
    etag_matches,
    header,
    is_private_read,
    is_public_read,
    not_modified_headers,
)
from services.gateway.config import UPSTREAM_SERVICES
from services.gateway.edge.caller import EdgeCaller, EdgeCallerDep
from services.gateway.errors import InternalEndpointError, UpstreamError
from services.gateway.proxy.service import (
    BUFFERED_BODY_BYTES,
    CappedBody,
    IncomingRequest,
    UpstreamReply,
    declared_body_length,
    forward,
    read_capped_body,
    upstream_path,
)
from services.gateway.upstreams import Upstreams, UpstreamsDep
from shared.errors import problem_responses
from shared.logs import request_id_var

PROXY_PATH = "/api/{service}/{path:path}"

# Each service's Prometheus metrics are scraped inside the cluster; from outside they would
# tell anyone the platform's traffic (how many alerts, sign-ins and failures, and when).
INTERNAL_PATHS = frozenset({"metrics"})

# One route per method rather than one route for all: FastAPI gives a multi-method route a
# single operationId, which OpenAPI requires to be unique per operation.
FORWARDED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# No length limit: the name is only ever looked up among four, and any other is a 404.
ServiceName = Annotated[
    str,
    Path(
        description="The service: " + ", ".join(UPSTREAM_SERVICES),
        examples=list(UPSTREAM_SERVICES),
    ),
]
ServicePath = Annotated[
    str,
    Path(
        max_length=4096,
        description="The path on the service, forwarded with the query string",
        examples=["openapi.json"],
    ),
]


async def forward_to_service(
    service: ServiceName,
    path: ServicePath,
    request: Request,
    upstreams: UpstreamsDep,
    caller: EdgeCallerDep,
) -> Response:
    return await proxy_request(request, upstreams, caller, service, path)


async def proxy_request(
    request: Request, upstreams: Upstreams, caller: EdgeCaller, service: str, path: str
) -> Response:
    """Forward one request below /api/<service>/, or answer it from the public-read cache."""
    upstreams.base_url(service)  # an unknown service is a 404 before any body is read
    if path.rstrip("/") in INTERNAL_PATHS:
        raise InternalEndpointError(service, path)
    scope = request.scope
    prefix = f"{scope.get('root_path', '')}/api/{service}"
    forward_path = upstream_path(
        raw_path=scope.get("raw_path"),
        root_path=scope.get("root_path", ""),
        service=service,
        decoded_path=path,
    )
    headers = request.headers
    declared_length = headers.get("content-length")
    body: bytes | CappedBody
    if declared_length is None and "transfer-encoding" not in headers:
        body = b""  # no body was sent (most GETs): nothing to wait for
    else:
        limit = upstreams.max_body_bytes
        declared = declared_body_length(declared_length, limit=limit)
        if declared is not None and declared <= BUFFERED_BODY_BYTES:
            body = await read_capped_body(request.stream(), declared_length=None, limit=limit)
        else:
            body = CappedBody(request.stream(), limit=limit)
    raw_headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    query: bytes = scope.get("query_string", b"")
    public_path = "/" + path
    cache = upstreams.public_cache
    cacheable = (
        request.method == "GET"
        and cache.enabled
        and is_public_read(service, public_path)
        and anonymous(raw_headers)
    )
    if cacheable:
        # The service is asked for the whole answer; the caller's validators are checked here.
        if_none_match = header(raw_headers, b"if-none-match")
        raw_headers = [(n, v) for n, v in raw_headers if n.lower() not in CONDITIONAL_HEADERS]

    async def fetch() -> UpstreamReply:
        return await forward(
            upstreams,
            service,
            IncomingRequest(
                method=request.method,
                path=forward_path,
                query=query,
                headers=raw_headers,
                body=body,
                client_host=request.client.host if request.client else None,
                scheme=request.url.scheme,
                host=headers.get("host"),
                prefix=prefix,
                request_id=request_id_var.get(),
                member_id=str(caller.member_id) if caller.member_id else None,
            ),
        )

    if not cacheable:
        reply = await fetch()
        if is_private_read(service, public_path):
            reply.headers = [
                *((n, v) for n, v in reply.headers if n.lower() != b"cache-control"),
                (b"cache-control", PRIVATE),
            ]
        return StreamedReply(reply)
    key = cache_key(service, forward_path, query, raw_headers)
    answer = await cache.get_or_fetch(key, fetch)
    if not isinstance(answer, CachedReply):
        return StreamedReply(answer)
    if if_none_match is not None and etag_matches(if_none_match, answer.etag):
        return _raw_response(304, not_modified_headers(answer.headers), b"")
    return _raw_response(answer.status_code, answer.headers, answer.body)


class StreamedReply(Response):
    """A service's answer passed on while it arrives: the status and headers at once, then each
    chunk of the body as the service writes it. The upstream connection and the service's
    in-flight slot are released once the last chunk is sent, or the caller has gone."""

    def __init__(self, reply: UpstreamReply) -> None:
        self.reply = reply
        self.status_code = reply.status_code
        self.raw_headers = reply.headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            # Each chunk goes on as it arrives. When the service declared its length, the chunk
            # that completes it is sent as the last (most answers are one chunk: one message,
            # not two); otherwise an empty last message ends the body.
            remaining = self.reply.declared_length
            async for chunk in self.reply.chunks():
                if remaining is not None:
                    remaining -= len(chunk)
                done = remaining is not None and remaining <= 0
                await send({"type": "http.response.body", "body": chunk, "more_body": not done})
                if done:
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except UpstreamError:
            # The service failed half-way through its answer, logged as
            # gateway.upstream.body_failed. The head is gone, so no 502 can be sent: returning
            # without finishing makes the server close the connection, and the caller sees an
            # unfinished body rather than a whole-looking truncated one.
            return
        finally:
            await self.reply.close()


def _raw_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Response:
    response = Response(content=body, status_code=status)
    # The service's headers replace Starlette's computed ones: repeated headers (Set-Cookie)
    # must survive, and the Content-Length was settled with the body.
    response.raw_headers = headers
    return response


def _request_body_doc(method: str) -> dict[str, Any] | None:
    if method not in _METHODS_WITH_BODY:
        return None
    return {
        "requestBody": {
            "required": False,
            "description": "Forwarded unchanged, up to GATEWAY_MAX_BODY_BYTES",
            "content": {
                "application/json": {
                    "schema": {},
                    "example": {"email": "sam@example.org", "password": "correct horse battery"},
                }
            },
        }
    }


def proxy_router() -> APIRouter:
    router = APIRouter(tags=["proxy"])
    for method in FORWARDED_METHODS:
        router.add_api_route(
            PROXY_PATH,
            forward_to_service,
            methods=[method],
            name=f"forward_{method.lower()}",
            summary=f"Forward a {method} request to a service",
            description=(
                "Forwards the request with its query string, body and headers (less hop-by-hop "
                "ones) to the service's `/{path}`, adding X-Request-ID and X-Forwarded-For, "
                "-Proto, -Host and -Prefix; answers with the service's status, headers and body."
            ),
            response_class=Response,
            responses={
                200: {"description": "Whatever the service answered, passed on unchanged"},
                **problem_responses(400, 401, 404, 413, 429, 502, 503, 504),
            },
            openapi_extra=_request_body_doc(method),
        )
    return router
