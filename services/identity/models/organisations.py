"""Organisations (borough commands, Neighbourhood Watch schemes, partner agencies) and their
areas as ward codes."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import WARD_CODE_LENGTH, Base
from shared.db import Timestamps, UUIDPrimaryKey


class OrganisationKind(StrEnum):
    BOROUGH_COMMAND = "borough_command"
    NW_SCHEME = "nw_scheme"
    PARTNER_AGENCY = "partner_agency"


ORGANISATION_CODE_MAX_LENGTH = 40
ORGANISATION_NAME_MAX_LENGTH = 120
MAX_AREA_WARDS = 400

_KIND_LIST = ", ".join(f"'{kind.value}'" for kind in OrganisationKind)


class Organisation(UUIDPrimaryKey, Timestamps, Base):
    """A borough command, a Neighbourhood Watch scheme or a partner agency, with its area.

    Identity does not own geography: the area is a list of ward codes that an admin (or, in
    development, the wards file) registers with the organisation.
    """

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(f"kind IN ({_KIND_LIST})", name="kind_known"),)

    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(ORGANISATION_CODE_MAX_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(ORGANISATION_NAME_MAX_LENGTH))
    ward_codes: Mapped[list[str]] = mapped_column(ARRAY(String(WARD_CODE_LENGTH)), default=list)
