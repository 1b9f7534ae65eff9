"""What the boundaries API reads and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.geo.models import NAME_LENGTH

ONS_CODE_PATTERN = r"^[A-Z][0-9]{8}$"

OnsCode = Annotated[
    str,
    Field(
        min_length=9,
        max_length=9,
        pattern=ONS_CODE_PATTERN,
        description="An ONS GSS code: one capital letter and eight digits",
        examples=["E05013806"],
    ),
]

# A list of exactly four rather than a tuple: a tuple becomes ``prefixItems``, which response
# checkers built on OpenAPI 3.0 habits (schemathesis) misread as an invalid ``items`` list.
BoundingBox = Annotated[list[float], Field(min_length=4, max_length=4)]
BBOX_DESCRIPTION = "WGS84 bounds as [min_lon, min_lat, max_lon, max_lat] (GeoJSON order)"


# --- GeoJSON in -----------------------------------------------------------------------------


class GeoJSONFeature(BaseModel):
    """A GeoJSON Feature. Its properties and geometry are checked feature by feature by the
    importer, so that one bad feature is reported by its position and code rather than as a
    wall of schema errors."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["Feature"]
    properties: dict[str, Any] | None = None
    geometry: dict[str, Any] | None = None


class FeatureCollection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["FeatureCollection"]
    features: list[GeoJSONFeature]


class BoundarySetCreate(BaseModel):
    """A whole geography: every borough (properties ``code``, ``name``) and every ward
    (properties ``code``, ``name``, ``borough_code``), as ONS publishes them."""

    name: str = Field(
        min_length=1,
        max_length=NAME_LENGTH,
        description="A label for this version, e.g. 'ONS wards December 2023'",
    )
    boroughs: FeatureCollection
    wards: FeatureCollection


# --- out ------------------------------------------------------------------------------------


class ImportSummary(BaseModel):
    """The boundary set just imported, which is now the current one."""

    id: uuid.UUID
    name: str
    imported_at: datetime
    borough_count: int
    ward_count: int
    vertex_count: int
    replaced_set_id: uuid.UUID | None = Field(
        description="The set that was current before this import, if any"
    )

    def __str__(self) -> str:
        return (
            f"boundary set {self.name!r} ({self.id}): {self.borough_count} boroughs, "
            f"{self.ward_count} wards, {self.vertex_count} vertices; now current"
        )


class WardSummary(BaseModel):
    code: str = Field(examples=["E05013806"])
    name: str = Field(examples=["St James's"])
    borough_code: str = Field(examples=["E09000033"])
    borough_name: str = Field(examples=["Westminster"])
    bbox: BoundingBox = Field(description=BBOX_DESCRIPTION)


class WardDetail(WardSummary):
    boundary_set_id: uuid.UUID
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS84")


class BoroughSummary(BaseModel):
    code: str = Field(examples=["E09000033"])
    name: str = Field(examples=["Westminster"])
    ward_count: int
    bbox: BoundingBox = Field(description=BBOX_DESCRIPTION)
