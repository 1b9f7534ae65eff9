from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ServiceState = Literal["ready", "not ready", "unreachable", "timeout"]


class ServiceReadyzBody(BaseModel):
    """What a service's own /readyz answers (shared.web.operational_router)."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(max_length=64)
    checks: dict[str, str] = Field(default_factory=dict, max_length=100)


class ServiceReadiness(BaseModel):
    status: ServiceState = Field(
        description="ready; not ready (it said so); unreachable; timeout (no answer in time)"
    )
    checks: dict[str, str] | None = Field(
        default=None, description="The service's own checks, when it answered"
    )
    detail: str | None = Field(
        default=None, max_length=500, description="Why it is not ready, when its checks don't say"
    )


class GatewayReadiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "not ready",
                    "services": {
                        "identity": {
                            "status": "ready",
                            "checks": {"database": "ok", "broker": "ok"},
                        },
                        "alerts": {
                            "status": "not ready",
                            "checks": {"database": "failing: ConnectionRefusedError"},
                        },
                        "geo": {"status": "unreachable", "detail": "ConnectError"},
                        "dispatch": {"status": "timeout", "detail": "no answer within 2.0 s"},
                    },
                }
            ]
        }
    )

    status: Literal["ready", "not ready"]
    services: dict[str, ServiceReadiness]
