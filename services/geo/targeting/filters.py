"""Subscription filters as the index stores them: a category bitmask and a severity rank.

The crime types are the alerts service's ``CrimeType`` values (services/alerts/models/alert.py),
repeated here because a service never imports another's code: they travel as the CAP
category text of each alert. A new crime type must be appended (never inserted: the bit
positions are stored).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal, get_args

CrimeType = Literal[
    "burglary",
    "robbery",
    "violence_with_injury",
    # Bit 3 was "vehicle_crime": its alerts and filters became theft from motor vehicles,
    # and filters on it also gained theft of motor vehicles (geo migration a7d20c5e91b3).
    "theft_from_motor_vehicle",
    "theft_from_person",
    "criminal_damage",
    "antisocial_behaviour",
    "fraud_or_scam",
    "missing_person",
    "witness_appeal",
    "safety_advice",
    "community_event",
    "road_closure",
    "theft_of_motor_vehicle",
    # Received CAP that named no crime type and matched nothing more specific (alerts'
    # cap/crime_types.py); an officer may correct it before approval.
    "other",
]
CRIME_TYPES: tuple[str, ...] = get_args(CrimeType)
_BIT = {name: 1 << i for i, name in enumerate(CRIME_TYPES)}


class MinimumSeverity(StrEnum):
    """CAP severities in order; a subscription receives alerts at or above its minimum."""

    MINOR = "Minor"
    MODERATE = "Moderate"
    SEVERE = "Severe"
    EXTREME = "Extreme"


SEVERITY_RANK = {"Minor": 1, "Moderate": 2, "Severe": 3, "Extreme": 4}
RANK_SEVERITY = {rank: name for name, rank in SEVERITY_RANK.items()}


def severity_rank(severity: str) -> int:
    """CAP ``Unknown`` (or anything unrecognised) ranks with Minor: an alert of unknown
    severity still reaches everyone who has not asked for only the serious ones."""
    return SEVERITY_RANK.get(severity, 1)


def categories_mask(categories: Iterable[str] | None) -> int | None:
    """None (every category, including ones added later) or the bits of the chosen ones."""
    if categories is None:
        return None
    mask = 0
    for category in categories:
        mask |= _BIT[category]
    return mask


def category_bit(category: str) -> int:
    """An alert's category as a bit; 0 for a category this service does not know, which
    then reaches only subscriptions without a category filter."""
    return _BIT.get(category, 0)
