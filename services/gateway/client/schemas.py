"""What the web client reads of the gateway's settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClientSettings(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"map_tile_url": None}, {"map_tile_url": "https://tiles.example"}]
        }
    )

    map_tile_url: str | None = Field(
        description="GATEWAY_MAP_TILE_URL: the origin of a tile server (which the "
        "Content-Security-Policy lets images come from); the client loads "
        "{origin}/{z}/{x}/{y}.png. Null: the map shows boundaries only"
    )
