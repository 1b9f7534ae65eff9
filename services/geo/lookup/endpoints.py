"""HTTP routes: where is this point, or this postcode."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from services.geo.lookup.schemas import Location
from services.geo.lookup.service import LookupService
from shared.errors import problem_responses
from shared.geocoding import Geocoder
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/lookup", tags=["lookup"])


def lookup_service(request: Request, session: SessionDep) -> LookupService:
    geocoder: Geocoder = request.app.state.geocoder
    return LookupService(session, geocoder)


LookupServiceDep = Annotated[LookupService, Depends(lookup_service)]


@router.get(
    "/point",
    summary="The ward and borough of a point",
    responses=problem_responses(404, 422, 503),
)
async def locate_point(
    lookup: LookupServiceDep,
    lat: Annotated[
        float,
        Query(
            ge=-90, le=90, allow_inf_nan=False, openapi_examples=openapi_examples(palace=51.501009)
        ),
    ],
    lon: Annotated[
        float,
        Query(
            ge=-180,
            le=180,
            allow_inf_nan=False,
            openapi_examples=openapi_examples(palace=-0.141588),
        ),
    ],
) -> Location:
    return await lookup.locate_point(lat, lon)


@router.get(
    "/postcodes/{postcode}",
    summary="A postcode's position, ward and borough",
    description="Any spacing and case (`sw1a1aa`). The ward in the postcode's own record "
    "beats point-in-polygon.",
    responses=problem_responses(404, 422, 503),
)
async def locate_postcode(
    lookup: LookupServiceDep,
    postcode: Annotated[
        str,
        Path(
            min_length=5,
            max_length=10,
            openapi_examples=openapi_examples(buckingham_palace="SW1A 1AA"),
        ),
    ],
) -> Location:
    return await lookup.locate_postcode(postcode)
