"""HTTP route for officers: how many people would a draft target reach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from services.geo.audience.schemas import AudiencePreview, PreviewRequest
from services.geo.audience.service import AudienceService, Target, TargetLimits
from services.geo.dependencies import SettingsDep
from services.geo.routing import AreaBodyCappedRoute
from services.geo.targeting import contract
from shared import targeting
from shared.auth import Principal, require_roles
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/audience", tags=["audience"], route_class=AreaBodyCappedRoute)

OfficerDep = Annotated[Principal, Depends(require_roles("officer", "platform_admin"))]


def audience_service(session: SessionDep) -> AudienceService:
    return AudienceService(session)


AudienceServiceDep = Annotated[AudienceService, Depends(audience_service)]


@router.post(
    "/preview",
    summary="Count who a draft target would reach (officers), storing nothing",
    description="The same resolution as publishing: members watching any area that "
    "intersects the union of wards, boroughs, circles and polygons, whose filters pass for "
    "the draft's category and severity, each counted once; with a per-ward breakdown. The "
    "target is checked by the targeting contract alerts publishes by (shared/targeting.py): a "
    "problem is a 422 whose `field` names the part at fault.",
    responses=problem_responses(401, 403, 413, 422, 503),
)
async def preview_audience(
    body: Annotated[
        PreviewRequest,
        Body(
            openapi_examples=openapi_examples(
                two_wards={"target": {"ward_codes": ["E05013806", "E05013807"]}},
                circle_in_the_city={
                    "target": {"circles": [{"lat": 51.5136, "lon": -0.0890, "radius_m": 500}]},
                    "category": "robbery",
                    "severity": "Severe",
                },
                a_borough={"target": {"borough_codes": ["E09000033"]}},
            )
        ),
    ],
    audiences: AudienceServiceDep,
    settings: SettingsDep,
    _officer: OfficerDep,
) -> AudiencePreview:
    contract.refuse_unusable_preview(
        targeting.Target(
            ward_codes=body.target.ward_codes,
            borough_codes=body.target.borough_codes,
            circles=[targeting.TargetCircle(c.lat, c.lon, c.radius_m) for c in body.target.circles],
            polygons=[
                targeting.TargetPolygon(contract.lat_lon_ring(p.coordinates))
                for p in body.target.polygons
            ],
        )
    )
    target = Target.of_request(body.target, TargetLimits.of(settings))
    return await audiences.preview(target, category=body.category, severity=body.severity)
