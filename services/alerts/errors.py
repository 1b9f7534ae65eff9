"""The alerts service's errors. Each becomes an RFC 9457 problem with its status and slug."""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import TawnyError
from shared.targeting import TargetProblem, problem_summary


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


class AlertForbiddenError(AlertsError):
    """The caller's role, area or relation to the alert does not allow this."""

    status_code = 403
    slug = "alert-forbidden"
    title = "You may not do this to this alert"


class AlertInvalidError(AlertsError):
    """The alert breaks a rule that the request's shape alone could not show."""

    status_code = 422
    slug = "alert-invalid"
    title = "The alert is not valid"


class AlertTargetInvalidError(AlertsError):
    """A target the targeting contract (``shared.targeting``) refuses: ``field`` names the
    first part at fault, ``problems`` lists every one."""

    status_code = 422
    slug = "alert-target-invalid"
    title = "The alert's target cannot be used"

    def __init__(self, problems: Sequence[TargetProblem]) -> None:
        super().__init__(
            problem_summary(problems),
            field=problems[0].field,
            problems=[p.as_dict() for p in problems],
        )


class CapDocumentError(AlertsError):
    """A CAP document that is not well-formed, unsafe, or not valid CAP 1.2."""

    status_code = 400
    slug = "cap-document-invalid"
    title = "The CAP document cannot be accepted"


class CapAreaOutsideCoverageError(AlertsError):
    """A CAP message whose area has nothing Tawny can resolve inside Greater London."""

    status_code = 422
    slug = "cap-area-outside-coverage"
    title = "The alert's area is outside the platform's coverage"


class CapDocumentTooLargeError(AlertsError):
    status_code = 413
    slug = "cap-document-too-large"
    title = "The CAP document is too large"


class UnsupportedMediaTypeError(AlertsError):
    status_code = 415
    slug = "unsupported-media-type"
    title = "This content type is not accepted here"


class ImageTooLargeError(AlertsError):
    status_code = 413
    slug = "image-too-large"
    title = "The picture is too large"


class ImageRefusedError(AlertsError):
    """A picture that cannot be read, or whose dimensions are beyond the limits."""

    status_code = 422
    slug = "image-refused"
    title = "The picture cannot be accepted"


class ImageNotFoundError(AlertsError):
    status_code = 404
    slug = "image-not-found"
    title = "Image not found"


class ReplyRateLimitedError(AlertsError):
    status_code = 429
    slug = "reply-rate-limited"
    title = "Too many replies"


class ReplyNotFoundError(AlertsError):
    status_code = 404
    slug = "reply-not-found"
    title = "Reply not found"


class WebhookNotFoundError(AlertsError):
    status_code = 404
    slug = "webhook-not-found"
    title = "Webhook not found"


class MemberSuspendedError(AlertsError):
    """Identity suspended the caller (``member.suspended``); their token may still be valid."""

    status_code = 403
    slug = "member-suspended"
    title = "Your account is suspended"
