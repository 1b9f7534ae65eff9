"""HTTP routes for boundaries: public reads of the current set, and the admin import."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response, status

from services.geo.boundaries.schemas import (
    ONS_CODE_PATTERN,
    BoroughSummary,
    BoundarySetCreate,
    ImportSummary,
    WardDetail,
    WardSummary,
)
from services.geo.boundaries.service import BoundaryService
from services.geo.boundaries.validation import ImportLimits
from services.geo.dependencies import SettingsDep
from services.geo.routing import BodySizeCappedRoute
from shared.auth import Principal, require_roles
from shared.errors import problem_responses
from shared.http_caching import cacheable_response
from shared.runtime import SessionDep
from shared.web import NO_NUL_PATTERN, openapi_examples

router = APIRouter(tags=["boundaries"])

# Whole geographies arrive here: the body is capped before it is parsed.
admin_router = APIRouter(tags=["boundaries"], route_class=BodySizeCappedRoute)

AdminDep = Annotated[Principal, Depends(require_roles("platform_admin"))]


def boundary_service(session: SessionDep) -> BoundaryService:
    return BoundaryService(session)


BoundaryServiceDep = Annotated[BoundaryService, Depends(boundary_service)]


def _square(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> dict[str, object]:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [min_lon, min_lat],
                [max_lon, min_lat],
                [max_lon, max_lat],
                [min_lon, max_lat],
                [min_lon, min_lat],
            ]
        ],
    }


_BOUNDARY_SET_EXAMPLES = openapi_examples(
    one_borough_one_ward={
        "name": "Demo geography",
        "boroughs": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "E09999991", "name": "Demo Borough"},
                    "geometry": _square(-0.14, 51.50, -0.12, 51.52),
                }
            ],
        },
        "wards": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {
                        "code": "E05999991",
                        "name": "Acorn Green",
                        "borough_code": "E09999991",
                    },
                    "geometry": _square(-0.14, 51.50, -0.12, 51.52),
                }
            ],
        },
    },
)


@router.get(
    "/wards",
    summary="Search the current wards by name",
    description="Wards of the current boundary set whose name contains `q` (any case), "
    "names starting with `q` first; optionally only those of one borough.",
    responses=problem_responses(422),
)
async def search_wards(
    boundaries: BoundaryServiceDep,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=NO_NUL_PATTERN,
            description="Part of a ward's name",
            openapi_examples=openapi_examples(by_name="james"),
        ),
    ] = None,
    borough: Annotated[
        str | None,
        Query(
            pattern=ONS_CODE_PATTERN,
            description="Only wards of this borough (ONS code)",
            openapi_examples=openapi_examples(westminster="E09000033"),
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many wards")] = 20,
) -> list[WardSummary]:
    return await boundaries.search_wards(query=q, borough_code=borough, limit=limit)


@router.get(
    "/wards/{code}",
    summary="One ward of the current set, with its boundary",
    responses=problem_responses(404, 422),
)
async def get_ward(
    boundaries: BoundaryServiceDep,
    code: Annotated[
        str,
        Path(
            pattern=ONS_CODE_PATTERN,
            description="The ward's ONS code",
            openapi_examples=openapi_examples(st_jamess="E05013806"),
        ),
    ],
) -> WardDetail:
    return await boundaries.get_ward(code)


@router.get(
    "/boroughs",
    summary="Every borough of the current set",
    responses=problem_responses(500),
)
async def list_boroughs(boundaries: BoundaryServiceDep) -> list[BoroughSummary]:
    return await boundaries.list_boroughs()


@admin_router.post(
    "/admin/boundary-sets",
    status_code=status.HTTP_201_CREATED,
    summary="Import a boundary set and make it current (platform admin)",
    description="Every feature is checked (ONS codes, names, valid Polygon or MultiPolygon "
    "geometry, each ward's borough present); one problem refuses the whole set and the "
    "answer lists them all. Large collections are refused with 413.",
    responses=problem_responses(401, 403, 413, 422),
)
async def import_boundary_set(
    body: Annotated[BoundarySetCreate, Body(openapi_examples=_BOUNDARY_SET_EXAMPLES)],
    boundaries: BoundaryServiceDep,
    settings: SettingsDep,
    _admin: AdminDep,
) -> ImportSummary:
    return await boundaries.import_boundary_set(
        name=body.name,
        boroughs=body.boroughs,
        wards=body.wards,
        limits=ImportLimits(
            max_features=settings.max_import_features,
            max_vertices=settings.max_import_vertices,
        ),
    )


@router.get(
    "/map/{layer}.geojson",
    summary="Simplified GeoJSON of the current wards or boroughs, for the web map",
    description="One FeatureCollection (properties: code, name, and borough_code for wards), "
    "simplified for drawing. Cached: send the ETag back in If-None-Match for a 304.",
    response_class=Response,
    responses={
        200: {"content": {"application/geo+json": {}}, "description": "The FeatureCollection"},
        304: {"description": "Not modified: your copy (If-None-Match) is current"},
        **problem_responses(422, 503),
    },
)
async def map_layer(
    boundaries: BoundaryServiceDep,
    settings: SettingsDep,
    layer: Annotated[
        Literal["wards", "boroughs"],
        Path(description="wards or boroughs", openapi_examples=openapi_examples(wards="wards")),
    ],
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    document = await boundaries.map_document(layer, settings.map_simplify_tolerance_deg)
    return cacheable_response(
        document.body,
        media_type="application/geo+json",
        cache_control="public, max-age=300",
        if_none_match=if_none_match,
        etag=document.etag,
    )
