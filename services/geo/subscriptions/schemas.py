"""What the subscriptions API reads and returns."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.geo.boundaries.schemas import OnsCode


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ward_code: OnsCode


class Subscription(BaseModel):
    id: uuid.UUID
    ward_code: str = Field(examples=["E05013806"])
    ward_name: str | None = Field(
        description="The ward's name in the current boundary set; null if a newer set no "
        "longer has this ward",
        examples=["St James's"],
    )
    created_at: datetime
