"""The alerts service's errors. Each becomes an RFC 9457 problem with its status and slug."""

from __future__ import annotations

from shared.errors import TawnyError


class AlertsError(TawnyError):
    """Base of every error the alerts service raises on purpose."""

    slug = "alerts-bad-request"


class AlertNotFoundError(AlertsError):
    status_code = 404
    slug = "alert-not-found"
    title = "Alert not found"


class AlertStateConflictError(AlertsError):
    """The alert is not in a state that allows what was asked (publishing it twice, say)."""

    status_code = 409
    slug = "alert-state-conflict"
    title = "The alert is not in a state that allows this"
