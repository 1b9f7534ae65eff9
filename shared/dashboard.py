"""Who sees the public dashboard's counts exactly: one rule for every service that serves them
(alerts' figures, geo's members watching), so a count is never exact in one and suppressed in
the other for the same reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.auth import Principal

# Roles that see every count unsuppressed (MOPAC's and the platform's own staff).
LONDON_WIDE_ROLES = ("admin", "platform_admin")
# Roles that see their own boroughs' counts unsuppressed (the token's ``area_boroughs``).
OFFICER_ROLES = ("officer",)

ExactFor = Literal["nobody", "own_boroughs", "london"]


@dataclass(frozen=True)
class Viewer:
    """Whose figures these are: the public's (small counts suppressed) or staff's."""

    london_wide: bool = False
    borough_codes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, principal: Principal | None) -> Viewer:
        if principal is None:
            return cls()
        if principal.has_any_role(*LONDON_WIDE_ROLES):
            return cls(london_wide=True)
        if principal.has_any_role(*OFFICER_ROLES):
            return cls(borough_codes=frozenset(principal.area_borough_codes))
        return cls()

    @property
    def is_public(self) -> bool:
        return not self.london_wide and not self.borough_codes

    @property
    def exact_for(self) -> ExactFor:
        return "london" if self.london_wide else "own_boroughs" if self.borough_codes else "nobody"

    def sees_exactly(self, borough_code: str | None) -> bool:
        """``borough_code``: the borough a count is about (a ward's, or the borough itself);
        None for London's, which only London-wide staff see exactly."""
        return self.london_wide or (borough_code is not None and borough_code in self.borough_codes)

    def shown(self, n: int, *, borough_code: str | None, suppress_below: int) -> int | None:
        """The count as this reader may see it: None when suppressed. Zero and counts from
        the threshold up are exact for everyone."""
        exact = n == 0 or n >= suppress_below or self.sees_exactly(borough_code)
        return n if exact else None
