"""Recording and forgetting members' web push subscriptions. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.webpush import PushSubscription, subscription_address
from services.dispatch.errors import InvalidSubscriptionError
from services.dispatch.members.repository import MemberEndpointRepository, VerifiedEndpoint
from services.dispatch.models import ChannelKind
from services.dispatch.webpush.schemas import WebPushSubscriptionIn
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)


def checked_endpoint(endpoint: str, *, insecure_origins: Collection[str]) -> str:
    """The endpoint, if dispatch may POST alerts to it: https, or an allowed http origin.
    Anything else could point dispatch's requests at an internal service."""
    parts = urlsplit(endpoint)
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidSubscriptionError("The endpoint must not carry credentials or a fragment.")
    if not parts.hostname:
        raise InvalidSubscriptionError("The endpoint must be an absolute URL.")
    if parts.scheme == "https":
        return endpoint
    if parts.scheme == "http" and f"http://{parts.netloc}" in insecure_origins:
        return endpoint
    raise InvalidSubscriptionError("The endpoint must be an https URL of a push service.")


class WebPushSubscriptionService:
    def __init__(self, session: AsyncSession, *, insecure_origins: Collection[str] = ()) -> None:
        self._endpoints = MemberEndpointRepository(session)
        self._insecure_origins = frozenset(insecure_origins)

    async def subscribe(
        self, member_id: uuid.UUID, subscription: WebPushSubscriptionIn
    ) -> PushSubscription:
        """Record the browser's subscription; it replaces any the member had (one browser)."""
        pushed = PushSubscription(
            endpoint=checked_endpoint(
                subscription.endpoint, insecure_origins=self._insecure_origins
            ),
            p256dh=subscription.keys.p256dh,
            auth=subscription.keys.auth,
        )
        await self._endpoints.record_verified(
            member_id=member_id,
            channel=ChannelKind.WEBPUSH,
            address=subscription_address(pushed),
            verified_at=utcnow(),
        )
        log.info(
            "dispatch.webpush.subscribed", member_id=str(member_id), push_service=pushed.origin
        )
        return pushed

    async def subscribe_many(
        self, subscriptions: Sequence[tuple[uuid.UUID, WebPushSubscriptionIn]]
    ) -> int:
        """Bulk import (seeding a population): ``subscribe``'s checks for every browser first,
        then one set-based upsert; one endpoint dispatch may not POST to refuses the batch."""
        endpoints = [
            VerifiedEndpoint(
                member_id,
                ChannelKind.WEBPUSH,
                subscription_address(
                    PushSubscription(
                        endpoint=checked_endpoint(
                            subscription.endpoint, insecure_origins=self._insecure_origins
                        ),
                        p256dh=subscription.keys.p256dh,
                        auth=subscription.keys.auth,
                    )
                ),
                utcnow(),
            )
            for member_id, subscription in subscriptions
        ]
        recorded = await self._endpoints.record_verified_many(endpoints)
        log.info("dispatch.endpoints.imported", channel=ChannelKind.WEBPUSH.value, count=recorded)
        return recorded

    async def unsubscribe(self, member_id: uuid.UUID) -> bool:
        removed = await self._endpoints.delete_one(member_id=member_id, channel=ChannelKind.WEBPUSH)
        if removed:
            log.info("dispatch.webpush.unsubscribed", member_id=str(member_id))
        return removed
