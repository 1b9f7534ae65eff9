"""Who may do what to an alert, from the access token's claims and the ward → borough map.

- Officers (and admins) write and publish to their own command's area: every targeted ward must
  be in the token's ``area`` claim or in a borough of its ``area_boroughs``, and every targeted
  borough in ``area_boroughs``.
- Coordinators, partners and CAP API clients (scope ``cap:write``) write drafts for their own
  area too, which officers then approve.
- A target *touches* its borough codes, the boroughs of its ward codes and (with ward
  boundaries configured) the boroughs its circles and polygons reach (``geography``). An
  officer signs off for the touched boroughs in their token's ``area_boroughs``; an alert is
  approved once every touched borough has been signed off and, when the alert is Extreme or
  touches more than one borough, by two different officers. An officer author's writing is
  their sign-off for the boroughs they cover; nobody approves their own alert.
- When a target touches no known borough (no ward map, or only wards it does not know), an
  approver must cover the whole target, as the author had to.
- The seeded demo officer has no area claims yet: outside production, an officer token with no
  area at all is treated as covering everywhere (``unscoped_officers_cover_all``), so the demo
  path works; in production such a token covers nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.alerts.config import AlertsSettings
from services.alerts.geography import Geography, geography_for
from services.alerts.models import Alert, AuthorKind, MsgType, Severity
from shared.auth import Principal

OFFICER_ROLES = ("officer", "admin")
AUTHOR_ROLES = ("officer", "admin", "coordinator", "partner")
CAP_WRITE_SCOPE = "cap:write"


@dataclass(frozen=True)
class Policy:
    unscoped_officers_cover_all: bool
    geography: Geography

    @classmethod
    def for_settings(cls, settings: AlertsSettings) -> Policy:
        return cls(
            unscoped_officers_cover_all=settings.allow_unscoped_officers,
            geography=geography_for(settings),
        )

    def is_unscoped(self, principal: Principal) -> bool:
        return not principal.area_ward_codes and not principal.area_borough_codes

    def is_officer(self, principal: Principal) -> bool:
        return principal.has_any_role(*OFFICER_ROLES)

    def author_kind(self, principal: Principal) -> AuthorKind:
        """Officers first (an officer who also coordinates writes as police); anyone else who
        may write (partner agencies, systems sending CAP) counts as a partner."""
        if self.is_officer(principal):
            return AuthorKind.OFFICER
        if principal.has_any_role("coordinator"):
            return AuthorKind.COORDINATOR
        return AuthorKind.PARTNER

    def may_author(self, principal: Principal) -> bool:
        return principal.has_any_role(*AUTHOR_ROLES) or CAP_WRITE_SCOPE in principal.scopes

    def covers(
        self, principal: Principal, *, ward_codes: list[str], borough_codes: list[str]
    ) -> bool:
        if self.is_unscoped(principal):
            return self.unscoped_officers_cover_all and self.is_officer(principal)
        wards, boroughs = set(principal.area_ward_codes), set(principal.area_borough_codes)
        return set(borough_codes) <= boroughs and all(
            ward in wards or self.geography.borough_of(ward) in boroughs for ward in ward_codes
        )

    def covers_alert(self, principal: Principal, alert: Alert) -> bool:
        return self.covers(
            principal,
            ward_codes=list(alert.target_ward_codes),
            borough_codes=list(alert.target_borough_codes),
        )

    def boroughs_signed_by(self, officer: Principal, touched: Iterable[str]) -> frozenset[str]:
        """The touched boroughs this officer may sign off for."""
        if not self.is_officer(officer):
            return frozenset()
        if self.is_unscoped(officer):
            return frozenset(touched) if self.unscoped_officers_cover_all else frozenset()
        return frozenset(touched) & frozenset(officer.area_borough_codes)

    def may_act_for(self, officer: Principal, alert: Alert) -> bool:
        """Whether an officer answers for the alert: they cover its whole target, or at least
        one borough it touches (a target across boroughs has an officer in each)."""
        if not self.is_officer(officer):
            return False
        return self.covers_alert(officer, alert) or bool(
            self.boroughs_signed_by(officer, alert.touched_borough_codes)
        )


def officers_required(alert: Alert, *, severity: Severity | None = None) -> int:
    """Two officers for an Extreme alert or one touching more than one borough, else one."""
    wide = len(set(alert.touched_borough_codes) | set(alert.target_borough_codes)) > 1
    extreme = (severity or alert.severity) is Severity.EXTREME
    return 2 if extreme or wide else 1


@dataclass(frozen=True)
class ApprovalGap:
    """What an alert still lacks before it may go out."""

    boroughs: frozenset[str]
    officers: int

    @property
    def closed(self) -> bool:
        return not self.boroughs and self.officers <= 0

    def describe(self) -> str:
        parts = []
        if self.boroughs:
            parts.append("an officer of " + ", ".join(sorted(self.boroughs)) + " must approve")
        if self.officers > 0:
            parts.append("a second officer must approve")
        return "; ".join(parts)


def sign_offs(alert: Alert) -> list[tuple[uuid.UUID, frozenset[str]]]:
    """Each officer who has signed the message off so far, with the boroughs they signed for:
    an officer author (for an original alert), then every approval."""
    signed: list[tuple[uuid.UUID, frozenset[str]]] = []
    if alert.msg_type is MsgType.ALERT and alert.author_is_officer:
        signed.append((alert.author_id, frozenset(alert.author_borough_codes)))
    signed.extend(
        (uuid.UUID(str(a["officer_id"])), frozenset(a["boroughs"])) for a in alert.approvals
    )
    return signed


def approval_gap(alert: Alert, *, severity: Severity | None = None) -> ApprovalGap:
    signed = sign_offs(alert)
    covered = frozenset().union(*(boroughs for _, boroughs in signed))
    officers = len({officer for officer, _ in signed})
    return ApprovalGap(
        boroughs=frozenset(alert.touched_borough_codes) - covered,
        officers=officers_required(alert, severity=severity) - officers,
    )


def approval_record(officer: Principal, boroughs: Iterable[str], at: str) -> dict[str, Any]:
    return {
        "officer_id": str(officer.member_id),
        "pseudonym": officer.pseudonym,
        "boroughs": sorted(boroughs),
        "at": at,
    }


def signed_officers(approvals: Sequence[Mapping[str, Any]]) -> set[str]:
    return {str(a["officer_id"]) for a in approvals}
