"""What the web client reads of the gateway's settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from shared import targeting

TARGETING_EXAMPLE: dict[str, JsonValue] = {
    "min_circle_radius_km": targeting.MIN_CIRCLE_RADIUS_M / 1000,
    "max_circle_radius_km": targeting.MAX_CIRCLE_RADIUS_M / 1000,
    "max_polygon_vertices": targeting.MAX_POLYGON_VERTICES,
    "max_polygon_area_km2": targeting.MAX_POLYGON_AREA_KM2,
}


class TargetingLimits(BaseModel):
    """The targeting contract's limits (shared/targeting.py), so the officer's form says what
    alerts and geo accept rather than numbers of its own."""

    min_circle_radius_km: float = targeting.MIN_CIRCLE_RADIUS_M / 1000
    max_circle_radius_km: float = targeting.MAX_CIRCLE_RADIUS_M / 1000
    max_polygon_vertices: int = targeting.MAX_POLYGON_VERTICES
    max_polygon_area_km2: float = targeting.MAX_POLYGON_AREA_KM2


class ClientSettings(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"map_tile_url": None, "targeting": TARGETING_EXAMPLE},
                {"map_tile_url": "https://tiles.example", "targeting": TARGETING_EXAMPLE},
            ]
        }
    )

    map_tile_url: str | None = Field(
        description="GATEWAY_MAP_TILE_URL: the origin of a tile server (which the "
        "Content-Security-Policy lets images come from); the client loads "
        "{origin}/{z}/{x}/{y}.png. Null: the map shows boundaries only"
    )
    targeting: TargetingLimits = Field(default_factory=TargetingLimits)
