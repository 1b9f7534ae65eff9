"""Request dependencies shared by identity's domains."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.identity.config import IdentitySettings


def identity_settings(request: Request) -> IdentitySettings:
    settings = request.app.state.settings
    assert isinstance(settings, IdentitySettings)
    return settings


SettingsDep = Annotated[IdentitySettings, Depends(identity_settings)]
