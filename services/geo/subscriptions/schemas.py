"""What the subscriptions API reads and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.geo.boundaries.schemas import OnsCode
from services.geo.models import LABEL_LENGTH
from services.geo.targeting.filters import CRIME_TYPES, CrimeType, MinimumSeverity

Finite = Annotated[float, Field(allow_inf_nan=False)]
Category = CrimeType

MAX_RINGS = 100


class CircleArea(BaseModel):
    """A circle on the ground: centre (WGS84) and radius in metres (100 m to 5 km)."""

    model_config = ConfigDict(extra="forbid")

    lat: Finite = Field(ge=-90, le=90, examples=[51.5074])
    lon: Finite = Field(ge=-180, le=180, examples=[-0.1278])
    radius_m: Finite = Field(examples=[1000])


class PolygonArea(BaseModel):
    """A GeoJSON Polygon, [longitude, latitude] positions, first ring the outline."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Polygon"]
    coordinates: list[list[list[Finite]]] = Field(min_length=1, max_length=MAX_RINGS)

    def as_geojson(self) -> dict[str, Any]:
        return {"type": "Polygon", "coordinates": self.coordinates}


class Filters(BaseModel):
    categories: list[Category] | None = Field(
        default=None,
        min_length=1,
        max_length=len(CRIME_TYPES),
        description="Only alerts of these crime types; null (the default) for every type",
        examples=[["burglary", "robbery"]],
    )
    min_severity: MinimumSeverity = Field(
        default=MinimumSeverity.MINOR,
        description="Only alerts at least this severe (CAP: Minor < Moderate < Severe < "
        "Extreme; Unknown counts as Minor)",
    )


class SubscriptionCreate(Filters):
    """One area to watch. ``kind`` defaults to ``ward`` so that ``{"ward_code": ...}`` alone
    subscribes to one ward. The home ward is not set here: it comes from the member's
    verified address."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["ward", "neighbours", "circle", "polygon"] = Field(
        default="ward",
        description="ward: one ward; neighbours: a ward and every ward touching it; circle; "
        "polygon (drawn)",
    )
    ward_code: OnsCode | None = None
    circle: CircleArea | None = None
    polygon: PolygonArea | None = None
    label: str | None = Field(
        default=None, min_length=1, max_length=LABEL_LENGTH, examples=["Round the office"]
    )

    @model_validator(mode="after")
    def _area_matches_kind(self) -> Self:
        given = {
            "ward_code": self.ward_code is not None,
            "circle": self.circle is not None,
            "polygon": self.polygon is not None,
        }
        needed = {"ward": "ward_code", "neighbours": "ward_code"}.get(self.kind, self.kind)
        if not given[needed]:
            raise ValueError(f"a {self.kind} subscription needs {needed}")
        extra = [name for name, present in given.items() if present and name != needed]
        if extra:
            raise ValueError(f"a {self.kind} subscription takes no {', '.join(extra)}")
        return self


class SubscriptionUpdate(BaseModel):
    """New filters or label; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    categories: list[Category] | None = Field(
        default=None, min_length=1, max_length=len(CRIME_TYPES)
    )
    all_categories: bool = Field(
        default=False, description="true: drop the category filter (every type)"
    )
    min_severity: MinimumSeverity | None = None
    label: str | None = Field(default=None, min_length=1, max_length=LABEL_LENGTH)


class Subscription(BaseModel):
    id: uuid.UUID
    kind: str = Field(examples=["ward"])
    ward_code: str | None = Field(examples=["E05013806"])
    ward_name: str | None = Field(
        description="The ward's name in the current boundary set; null if a newer set no "
        "longer has this ward, or for circles and polygons",
        examples=["St James's"],
    )
    circle: CircleArea | None = None
    polygon: dict[str, Any] | None = None
    label: str | None = None
    categories: list[str] | None = None
    min_severity: str = "Minor"
    created_at: datetime
