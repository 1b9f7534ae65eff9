"""The platform is ready when every service behind the gateway says it is."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import ValidationError

from services.gateway.readiness.schemas import GatewayReadiness, ServiceReadiness, ServiceReadyzBody
from services.gateway.upstreams import Upstreams
from shared.logs import get_logger

log = get_logger(__name__)

_DETAIL_LIMIT = 200


async def check_service(
    upstreams: Upstreams, service: str, *, request_id: str | None
) -> ServiceReadiness:
    """Ask one service's /readyz, within ``readiness_timeout_s`` in total (httpx's timeouts
    bound each phase, not the whole exchange)."""
    timeout_s = upstreams.readiness_timeout_s
    base_url = upstreams.base_url(service)
    url = base_url.copy_with(raw_path=base_url.raw_path.rstrip(b"/") + b"/readyz")
    headers = {"accept": "application/json", "user-agent": "tawny-gateway"}
    if request_id:
        headers["x-request-id"] = request_id
    try:
        async with asyncio.timeout(timeout_s):
            response = await upstreams.client.get(
                url, headers=headers, timeout=httpx.Timeout(timeout_s)
            )
    except (TimeoutError, httpx.TimeoutException):
        return ServiceReadiness(status="timeout", detail=f"no answer within {timeout_s} s")
    except httpx.HTTPError as error:
        return ServiceReadiness(status="unreachable", detail=type(error).__name__)
    try:
        body = ServiceReadyzBody.model_validate_json(response.content)
    except ValidationError:
        return ServiceReadiness(
            status="not ready",
            detail=f"unexpected answer: HTTP {response.status_code} "
            + response.text[:_DETAIL_LIMIT],
        )
    if response.status_code == 200 and body.status == "ready":
        return ServiceReadiness(status="ready", checks=body.checks)
    return ServiceReadiness(
        status="not ready",
        checks=body.checks,
        detail=None if body.checks else f"HTTP {response.status_code}: {body.status}",
    )


async def check_services(upstreams: Upstreams, *, request_id: str | None) -> GatewayReadiness:
    names = list(upstreams.base_urls)
    results = await asyncio.gather(
        *(check_service(upstreams, name, request_id=request_id) for name in names)
    )
    services = dict(zip(names, results, strict=True))
    not_ready = sorted(name for name, state in services.items() if state.status != "ready")
    if not_ready:
        log.warning(
            "gateway.readiness.not_ready",
            services={name: services[name].status for name in not_ready},
        )
    return GatewayReadiness(status="not ready" if not_ready else "ready", services=services)
