"""Who may do what to an alert, from the access token's claims alone.

- Officers (and admins) write and publish to their own command's area: every targeted ward must
  be in the token's ``area`` claim and every targeted borough in ``area_boroughs``.
- Coordinators, partners and CAP API clients (scope ``cap:write``) write drafts for their own
  area too, but an officer whose area covers the target must approve them.
- The approver is never the author, and an alert with severity Extreme or a target wider than
  one borough needs two different officers (an officer author counts as the first).
- A ward-only target's borough is not known here (geo owns the boundaries), so "wider than one
  borough" is judged on the borough geocodes; a ward target is bounded by the approving or
  publishing officer's own command area.
- The seeded demo officer has no area claims yet: outside production, an officer token with no
  area at all is treated as covering everywhere (``unscoped_officers_cover_all``), so the demo
  path works; in production such a token covers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.alerts.models import Alert, Severity
from shared.auth import Principal

OFFICER_ROLES = ("officer", "admin")
AUTHOR_ROLES = ("officer", "admin", "coordinator", "partner")
CAP_WRITE_SCOPE = "cap:write"


@dataclass(frozen=True)
class Policy:
    unscoped_officers_cover_all: bool

    def is_officer(self, principal: Principal) -> bool:
        return principal.has_any_role(*OFFICER_ROLES)

    def may_author(self, principal: Principal) -> bool:
        return principal.has_any_role(*AUTHOR_ROLES) or CAP_WRITE_SCOPE in principal.scopes

    def covers(
        self, principal: Principal, *, ward_codes: list[str], borough_codes: list[str]
    ) -> bool:
        if not principal.area_ward_codes and not principal.area_borough_codes:
            return self.unscoped_officers_cover_all and self.is_officer(principal)
        return set(ward_codes) <= set(principal.area_ward_codes) and set(borough_codes) <= set(
            principal.area_borough_codes
        )

    def covers_alert(self, principal: Principal, alert: Alert) -> bool:
        return self.covers(
            principal,
            ward_codes=list(alert.target_ward_codes),
            borough_codes=list(alert.target_borough_codes),
        )


def officers_required(alert: Alert) -> int:
    wide = len(alert.target_borough_codes) > 1
    return 2 if alert.severity is Severity.EXTREME or wide else 1


def officers_so_far(alert: Alert) -> int:
    return len(alert.approver_ids) + (1 if alert.author_is_officer else 0)
