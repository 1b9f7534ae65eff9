"""Request dependencies shared by the alerts service's domains."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.alerts.config import AlertsSettings
from shared.auth import Principal, require_roles


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
