"""Request dependencies shared by the alerts service's domains."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from services.alerts.config import AlertsSettings
from shared.auth import Principal, bearer_scheme, current_principal, require_roles


def alerts_settings(request: Request) -> AlertsSettings:
    settings = request.app.state.settings
    assert isinstance(settings, AlertsSettings), "the alerts app runs with AlertsSettings"
    return settings


AlertsSettingsDep = Annotated[AlertsSettings, Depends(alerts_settings)]

# Built once so that FastAPI sees one dependency (and caches it) wherever it is used.
require_officer = require_roles("officer", "admin")
Officer = Annotated[Principal, Depends(require_officer)]
# Everyone who writes or vets alerts: officers, vetted coordinators and partner agencies.
require_staff = require_roles("officer", "admin", "coordinator", "partner")
Staff = Annotated[Principal, Depends(require_staff)]


async def require_staff_from_request(request: Request) -> None:
    """For what anyone may read once public (``cap.service.is_public``): staff only until
    then. Called in the endpoint rather than declared, so that a public read needs no token."""
    credentials: HTTPAuthorizationCredentials | None = await bearer_scheme(request)
    principal = await current_principal(request, credentials)
    await require_staff(principal)
