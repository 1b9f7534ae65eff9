"""The dispatch service's errors. Each becomes an RFC 9457 problem with its status and slug."""

from __future__ import annotations

from shared.errors import TawnyError


class DispatchError(TawnyError):
    """Base of every error the dispatch service raises on purpose."""

    slug = "dispatch-bad-request"


class ChannelUnavailableError(DispatchError):
    """Nothing could be handed to a channel's provider just now (the mail server is down or
    answers only "try again later").

    Raised from a Kafka handler it rolls the handler's transaction back, so the consumer retries
    the event with backoff: harmless, because nothing of it was delivered."""

    status_code = 503
    slug = "channel-unavailable"
    title = "A delivery channel is unavailable"


class NoPendingConfirmationError(DispatchError):
    """A code was entered but no phone number is waiting for one (or it was replaced)."""

    status_code = 404
    slug = "no-pending-confirmation"
    title = "No phone number is waiting for a code"


class WrongCodeError(DispatchError):
    status_code = 422
    slug = "wrong-confirmation-code"
    title = "The confirmation code is wrong"


class ConfirmationExpiredError(DispatchError):
    """The code expired or too many wrong ones were entered: the member asks for a new one."""

    status_code = 410
    slug = "confirmation-expired"
    title = "The confirmation code can no longer be used"


class TooSoonError(DispatchError):
    status_code = 429
    slug = "too-soon"
    title = "Too soon"


class PhoneNumberRefusedError(DispatchError):
    """The SMS provider refused the number for good."""

    status_code = 422
    slug = "phone-number-refused"
    title = "The phone number can't receive SMS"


class ReceiptUnauthorisedError(DispatchError):
    status_code = 401
    slug = "receipt-unauthorised"
    title = "The callback's bearer token is wrong"


class ReceiptTooEarlyError(DispatchError):
    status_code = 409
    slug = "receipt-too-early"
    title = "The message's hand-over is still being recorded"


class InvalidSubscriptionError(DispatchError):
    """A web push subscription dispatch will not send to (its endpoint is not https, say)."""

    status_code = 422
    slug = "invalid-push-subscription"
    title = "The push subscription is not usable"


class TooManyDevicesError(DispatchError):
    """The member has as many browsers or app installations on the channel as allowed
    (``devices_per_channel``): they remove one before adding another."""

    status_code = 409
    slug = "too-many-devices"
    title = "Too many devices on this channel"


class EndpointNotFoundError(DispatchError):
    """No endpoint of the caller's has this id on this channel (removed already, say)."""

    status_code = 404
    slug = "endpoint-not-found"
    title = "No such endpoint"
