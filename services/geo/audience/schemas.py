"""What the audience preview reads and returns."""

from __future__ import annotations

import uuid
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.geo.boundaries.schemas import OnsCode
from services.geo.subscriptions.schemas import Category, CircleArea, PolygonArea

MAX_TARGET_CODES = 1000
MAX_TARGET_SHAPES = 20


class AudienceTarget(BaseModel):
    """A union of wards, boroughs, circles and drawn polygons."""

    model_config = ConfigDict(extra="forbid")

    ward_codes: list[OnsCode] = Field(default_factory=list, max_length=MAX_TARGET_CODES)
    borough_codes: list[OnsCode] = Field(default_factory=list, max_length=100)
    circles: list[CircleArea] = Field(default_factory=list, max_length=MAX_TARGET_SHAPES)
    polygons: list[PolygonArea] = Field(default_factory=list, max_length=MAX_TARGET_SHAPES)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not (self.ward_codes or self.borough_codes or self.circles or self.polygons):
            raise ValueError("a target needs at least one ward, borough, circle or polygon")
        return self


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: AudienceTarget
    category: Category | None = Field(
        default=None,
        description="The draft's crime type; members filtering it out are not counted. "
        "Null: count regardless of category filters",
    )
    severity: str | None = Field(
        default=None,
        pattern="^(Minor|Moderate|Severe|Extreme|Unknown)$",
        description="The draft's CAP severity; null: regardless of severity filters",
    )


class WardCount(BaseModel):
    code: str = Field(examples=["E05013806"])
    name: str | None = Field(examples=["St James's"])
    borough_code: str | None = Field(examples=["E09000033"])
    recipients: int = Field(description="Recipients watching an area in this ward")


class AudiencePreview(BaseModel):
    recipients: int = Field(description="Members who would receive it, each counted once")
    wards: list[WardCount] = Field(
        description="Per targeted or touched ward; a member watching several of them is "
        "counted in each, so these may add up to more than `recipients`"
    )
    boundary_set_id: uuid.UUID | None
    duration_ms: float
