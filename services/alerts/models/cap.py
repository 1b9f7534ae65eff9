"""CAP 1.2's vocabulary as Tawny uses it: message types, statuses, scopes, and the info
block's severity, urgency, certainty, categories and response types."""

from __future__ import annotations

from enum import StrEnum


class MsgType(StrEnum):
    """CAP ``msgType``. Tawny never sends Ack or Error."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class CapStatus(StrEnum):
    """CAP ``status``: only Actual alerts reach residents."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class Scope(StrEnum):
    """CAP ``scope``. Private (named addresses) is not something Tawny does."""

    PUBLIC = "Public"
    RESTRICTED = "Restricted"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class Category(StrEnum):
    """CAP ``category`` values."""

    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class ResponseType(StrEnum):
    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"
