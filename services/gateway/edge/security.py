"""Security headers on every answer the gateway gives, its own pages and forwarded APIs alike."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The web client is served from this origin only: no inline script, no third-party script.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's Swagger UI pages load their script and style from a CDN and start with an inline
# script; only those pages get this looser policy.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, extra_img_src: str = "") -> None:
        self.app = app
        self._strict_csp = (
            STRICT_CSP.replace("img-src 'self' data:", f"img-src 'self' data: {extra_img_src}")
            if extra_img_src
            else STRICT_CSP
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_CSP if scope["path"].endswith("/docs") else self._strict_csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [
                    (b"content-security-policy", policy.encode()),
                    (b"strict-transport-security", HSTS.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(self)"),
                ]
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in added if name not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
