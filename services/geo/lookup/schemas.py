"""What the lookup API returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PlaceRef(BaseModel):
    code: str = Field(examples=["E05013806"])
    name: str | None = Field(examples=["St James's"])


class Location(BaseModel):
    lat: float = Field(examples=[51.501009])
    lon: float = Field(examples=[-0.141588])
    postcode: str | None = Field(default=None, examples=["SW1A 1AA"])
    ward: PlaceRef | None
    borough: PlaceRef | None
    ward_source: Literal["postcode", "point-in-polygon", "none"] = Field(
        description="Where the ward came from: the postcode record (preferred: the generalised "
        "polygons are coarse near edges) or the ward polygons"
    )
