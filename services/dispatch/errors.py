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


class InvalidSubscriptionError(DispatchError):
    """A web push subscription dispatch will not send to (its endpoint is not https, say)."""

    status_code = 422
    slug = "invalid-push-subscription"
    title = "The push subscription is not usable"
