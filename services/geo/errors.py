"""The geo service's errors. Each carries its HTTP status and a stable slug; the shared handler
renders them as problem+json (``https://tawny.london/problems/<slug>``)."""

from __future__ import annotations

from typing import Any

from shared.errors import TawnyError


class GeoError(TawnyError):
    """Base of every error the geo service raises on purpose."""

    status_code = 400
    slug = "geo-error"
    title = "The geo service cannot do this"


class WardNotFoundError(GeoError):
    status_code = 404
    slug = "ward-not-found"
    title = "No such ward"

    def __init__(self, code: str) -> None:
        super().__init__(f"There is no ward {code} in the current boundary set.", code=code)


class UnknownWardError(GeoError):
    """A request names a ward that the current boundary set does not have."""

    status_code = 422
    slug = "unknown-ward"
    title = "Unknown ward"

    def __init__(self, code: str) -> None:
        super().__init__(f"There is no ward {code} in the current boundary set.", code=code)


class SubscriptionNotFoundError(GeoError):
    """Also what a member sees for someone else's subscription: its existence is not theirs
    to know."""

    status_code = 404
    slug = "subscription-not-found"
    title = "No such subscription"

    def __init__(self) -> None:
        super().__init__("You have no subscription with this id.")


class AlreadySubscribedError(GeoError):
    status_code = 409
    slug = "already-subscribed"
    title = "Already subscribed"

    def __init__(self, code: str) -> None:
        super().__init__(f"You already subscribe to ward {code}.", code=code)


class SubscriptionLimitError(GeoError):
    status_code = 422
    slug = "subscription-limit-reached"
    title = "Too many subscriptions"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You may subscribe to at most {limit} wards; remove one first.", limit=limit
        )


class BoundarySetRefusedError(GeoError):
    """The whole import is refused; ``problems`` lists what is wrong, feature by feature."""

    status_code = 422
    slug = "boundary-set-refused"
    title = "The boundary set was refused"

    def __init__(self, problems: list[str], **extensions: Any) -> None:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(
            f"Nothing was imported: {len(problems)} {noun}. {shown}{more}",
            problems=problems,
            **extensions,
        )
        self.problems = problems


class BoundarySetTooLargeError(GeoError):
    status_code = 413
    slug = "boundary-set-too-large"
    title = "The boundary set is too large"


class RequestBodyTooLargeError(GeoError):
    status_code = 413
    slug = "request-body-too-large"
    title = "The request body is too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is over {limit} bytes.", max_bytes=limit)


class InvalidAreaError(GeoError):
    """A circle, polygon or point that cannot be used: malformed, invalid (self-intersecting),
    too large, out of range or outside the UK."""

    status_code = 422
    slug = "invalid-area"
    title = "The area is not valid"


class UnknownBoroughError(GeoError):
    status_code = 422
    slug = "unknown-borough"
    title = "Unknown borough"

    def __init__(self, code: str) -> None:
        super().__init__(f"There is no borough {code} in the current boundary set.", code=code)


class NoBoundarySetError(GeoError):
    """Nothing has been imported yet: geometry questions cannot be answered."""

    status_code = 503
    slug = "no-boundary-set"
    title = "No boundaries imported"

    def __init__(self) -> None:
        super().__init__("No boundary set has been imported yet.")


class PlaceNotFoundError(GeoError):
    status_code = 404
    slug = "place-not-found"
    title = "Not in any ward"

    def __init__(self, lat: float, lon: float) -> None:
        super().__init__(
            f"The point ({lat}, {lon}) is in no ward of the current boundary set.",
            lat=lat,
            lon=lon,
        )


class PostcodeNotFoundError(GeoError):
    status_code = 404
    slug = "postcode-not-found"
    title = "Unknown postcode"

    def __init__(self, postcode: str) -> None:
        super().__init__(f"The postcode {postcode} is not known.", postcode=postcode)
