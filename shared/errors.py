"""RFC 9457 problem details: every error a service returns has the same shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import TimeoutError as SQLAlchemyPoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from shared.logs import get_logger, request_id_var

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://tawny.london/problems/"
# nginx's status for "the client closed the connection before the answer": recorded in metrics
# and logs, never seen by anyone.
CLIENT_CLOSED_REQUEST = 499


class TawnyError(Exception):
    """Base of each service's one error type. Subclasses set the status and a stable slug."""

    status_code: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        # Response headers the problem needs, such as Retry-After on a 429.
        self.headers = headers or {}


class NotFoundError(TawnyError):
    status_code = 404
    slug = "not-found"
    title = "Not found"


class ConflictError(TawnyError):
    status_code = 409
    slug = "conflict"
    title = "Conflict"


class UnauthorizedError(TawnyError):
    status_code = 401
    slug = "unauthorized"
    title = "Not signed in"


class ForbiddenError(TawnyError):
    status_code = 403
    slug = "forbidden"
    title = "Not allowed"


class UnprocessableError(TawnyError):
    status_code = 422
    slug = "invalid-request"
    title = "The request is not valid"


def problem_response(
    status: int, title: str, detail: str, *, slug: str, request: Request, **extensions: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def tawny_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TawnyError)
        response = problem_response(
            exc.status_code, exc.title, exc.detail, slug=exc.slug, request=request, **exc.extensions
        )
        response.headers.update(exc.headers)
        return response

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        return problem_response(
            422,
            "The request is not valid",
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5]),
            slug="invalid-request",
            request=request,
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = problem_response(
            exc.status_code,
            str(exc.detail) if exc.status_code != 404 else "Not found",
            str(exc.detail),
            slug=f"http-{exc.status_code}",
            request=request,
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def database_pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
        # Every database connection stayed busy for the whole pool wait: overload, not a bug.
        log.warning("request.database_pool_exhausted", path=request.url.path)
        response = problem_response(
            503,
            "Too busy",
            "All database connections are busy; try again shortly.",
            slug="overloaded",
            request=request,
            retry_after_s=1,
        )
        response.headers["retry-after"] = "1"
        return response

    async def client_disconnected(request: Request, exc: Exception) -> Response:
        # The caller gave up (a timeout, a closed tab) before its request was read: nobody is
        # left to answer, and it is not a fault of ours, so one line, no traceback.
        log.info("request.client_disconnected", path=request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request.unhandled_error", path=request.url.path)
        response = problem_response(
            500,
            "Internal error",
            "Something went wrong on our side; it has been logged.",
            slug="internal-error",
            request=request,
        )
        # uvicorn drops the connection after an unhandled error; saying so lets the caller (the
        # gateway's pool) retire it instead of sending the next request into a closed socket.
        response.headers["connection"] = "close"
        return response

    app.add_exception_handler(TawnyError, tawny_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SQLAlchemyPoolTimeout, database_pool_exhausted)
    app.add_exception_handler(ClientDisconnect, client_disconnected)
    app.add_exception_handler(Exception, unexpected_error)


_PROBLEM_EXAMPLES: dict[int, tuple[str, str, str]] = {
    400: ("bad-request", "Bad request", "The link has already been used."),
    401: ("unauthorized", "Not signed in", "Sign in first: this needs an access token."),
    403: ("forbidden", "Not allowed", "This needs one of these roles: admin, officer."),
    404: ("not-found", "Not found", "There is nothing with that id."),
    409: ("conflict", "Conflict", "That has already been done."),
    410: ("gone", "Gone", "The link has expired."),
    413: ("too-large", "Too large", "The request body is larger than allowed."),
    422: (
        "invalid-request",
        "The request is not valid",
        "body.email: value is not a valid email address",
    ),
    429: ("rate-limited", "Too many requests", "Try again in 30 seconds."),
    502: ("bad-gateway", "Bad gateway", "The geo service answered with an invalid response."),
    503: ("unavailable", "Service unavailable", "The geo service is unavailable."),
    504: ("timeout", "Gateway timeout", "The geo service did not answer in time."),
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries, each with an example, for the problems an endpoint
    may return."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        slug, title, detail = _PROBLEM_EXAMPLES.get(status, ("error", "Error", "It went wrong."))
        responses[status] = {
            "description": f"{title} (RFC 9457 problem details)",
            "content": {
                PROBLEM_JSON: {
                    "example": {
                        "type": PROBLEM_TYPE_BASE + slug,
                        "title": title,
                        "status": status,
                        "detail": detail,
                    }
                }
            },
        }
    return responses
