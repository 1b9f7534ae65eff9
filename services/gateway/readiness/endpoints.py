"""/readyz for the gateway: the platform's readiness, service by service (each service's own
checks, or why it could not be asked), in place of the shared single-process one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.gateway.readiness.schemas import GatewayReadiness
from services.gateway.readiness.service import check_services
from services.gateway.upstreams import UpstreamsDep
from shared.logs import request_id_var

READINESS_PATH = "/readyz"

router = APIRouter(tags=["operations"])


@router.get(
    READINESS_PATH,
    summary="Readiness: every service behind the gateway is ready",
    response_model=GatewayReadiness,
    responses={
        503: {
            "model": GatewayReadiness,
            "description": "Not ready; the body names each service that is not, and why",
        }
    },
)
async def readyz(upstreams: UpstreamsDep) -> JSONResponse:
    readiness = await check_services(upstreams, request_id=request_id_var.get())
    return JSONResponse(
        readiness.model_dump(mode="json", exclude_none=True),
        status_code=200 if readiness.status == "ready" else 503,
    )
