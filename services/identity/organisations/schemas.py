"""What the organisation endpoints accept and return."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.identity.models import (
    MAX_AREA_WARDS,
    ORGANISATION_CODE_MAX_LENGTH,
    ORGANISATION_NAME_MAX_LENGTH,
    OrganisationKind,
)

# ONS GSS codes: E05 for wards, E09 for London boroughs.
WardCode = Annotated[str, Field(pattern=r"^E05\d{6}$", examples=["E05009288"])]


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OrganisationKind
    code: str = Field(
        min_length=2,
        max_length=ORGANISATION_CODE_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="A stable code: the borough's GSS code for a borough command",
    )
    name: str = Field(min_length=2, max_length=ORGANISATION_NAME_MAX_LENGTH)
    ward_codes: list[WardCode] = Field(default_factory=list, max_length=MAX_AREA_WARDS)


class Organisation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: OrganisationKind
    code: str
    name: str
    ward_codes: list[str]
