"""Point to ward and borough; postcode to point, ward and borough."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.boundaries.service import BoundaryService
from services.geo.errors import PlaceNotFoundError, PostcodeNotFoundError
from services.geo.lookup.schemas import Location, PlaceRef
from services.geo.targeting.shapes import check_point
from shared.geocoding import Geocoder, normalise_postcode


class LookupService:
    def __init__(self, session: AsyncSession, geocoder: Geocoder) -> None:
        self._boundaries = BoundaryService(session)
        self._geocoder = geocoder

    async def locate_point(self, lat: float, lon: float) -> Location:
        check_point(lat, lon)
        ward_map = await self._boundaries.current_ward_map()
        ward = ward_map.ward_at(lat, lon)
        borough = ward_map.borough(ward.borough_code) if ward and ward.borough_code else None
        borough = borough or ward_map.borough_at(lat, lon)
        if ward is None and borough is None:
            raise PlaceNotFoundError(lat, lon)
        return Location(
            lat=lat,
            lon=lon,
            ward=PlaceRef(code=ward.code, name=ward.name) if ward else None,
            borough=PlaceRef(code=borough.code, name=borough.name) if borough else None,
            ward_source="point-in-polygon" if ward else "none",
        )

    async def locate_postcode(self, raw: str) -> Location:
        """The postcode's ward code, when its record has one of the current set, beats
        point-in-polygon: the generalised ward polygons put 6 % of London's postcodes in the
        wrong ward."""
        postcode = normalise_postcode(raw)
        record = await self._geocoder.lookup(postcode)
        if record is None:
            raise PostcodeNotFoundError(postcode)
        ward_map = await self._boundaries.current_ward_map()
        ward = ward_map.ward(record.ward_code) if record.ward_code else None
        source = "postcode"
        if ward is None:
            ward = ward_map.ward_at(record.lat, record.lon)
            source = "point-in-polygon" if ward else "none"
        borough_code = ward.borough_code if ward else record.borough_code
        borough = ward_map.borough(borough_code) if borough_code else None
        borough = borough or ward_map.borough_at(record.lat, record.lon)
        return Location(
            lat=record.lat,
            lon=record.lon,
            postcode=record.postcode,
            ward=PlaceRef(code=ward.code, name=ward.name) if ward else None,
            borough=PlaceRef(code=borough.code, name=borough.name) if borough else None,
            ward_source=source,
        )
