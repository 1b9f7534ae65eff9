"""The members-watching counts the public dashboard reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from shared.dashboard import ExactFor

LONDON_CODE = "E12000007"

_WARD_EXAMPLE: dict[str, JsonValue] = {
    "area_kind": "ward",
    "area_code": "E05013806",
    "name": "St James's",
    "borough_code": "E09000033",
    "members_watching": 214,
    "suppressed": False,
}


class WatcherCount(BaseModel):
    area_kind: Literal["london", "borough", "ward"]
    area_code: str = Field(description="ONS GSS code (E12000007 London, E09 borough, E05 ward)")
    name: str
    borough_code: str | None = Field(description="A ward's borough; null for the others")
    members_watching: int | None = Field(
        description="Distinct members watching the area now (any subscription touching it; "
        "suspended members left out); null when suppressed"
    )
    suppressed: bool = Field(description='True when the count is shown as "fewer than N"')

    model_config = ConfigDict(json_schema_extra={"examples": [_WARD_EXAMPLE]})


class WatcherCounts(BaseModel):
    suppress_below: int = Field(description="Counts from 1 to this minus one are suppressed")
    exact_for: ExactFor = Field(
        default="nobody",
        description="Whose counts this reader sees unsuppressed: an officer's token their own "
        "boroughs' (and their wards'), a platform admin's every count",
    )
    area: WatcherCount = Field(description="London, or the borough asked for")
    rows: list[WatcherCount] = Field(description="London's boroughs, or the borough's wards")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "suppress_below": 10,
                    "exact_for": "nobody",
                    "area": {
                        "area_kind": "borough",
                        "area_code": "E09000033",
                        "name": "Westminster",
                        "borough_code": None,
                        "members_watching": 5120,
                        "suppressed": False,
                    },
                    "rows": [
                        _WARD_EXAMPLE,
                        {
                            **_WARD_EXAMPLE,
                            "area_code": "E05013807",
                            "name": "Vincent Square",
                            "members_watching": None,
                            "suppressed": True,
                        },
                    ],
                }
            ]
        }
    )
