"""Request dependencies the geo service's endpoints share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.geo.config import GeoSettings


def geo_settings(request: Request) -> GeoSettings:
    settings: GeoSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[GeoSettings, Depends(geo_settings)]
