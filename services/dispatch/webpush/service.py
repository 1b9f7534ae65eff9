"""Recording and forgetting members' web push subscriptions. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.webpush import PushSubscription, subscription_address
from services.dispatch.config import DEFAULT_DEVICES_PER_CHANNEL
from services.dispatch.errors import InvalidSubscriptionError
from services.dispatch.members.repository import MemberEndpointRepository, VerifiedEndpoint
from services.dispatch.members.service import MemberEndpointService
from services.dispatch.models import ChannelKind, MemberEndpoint, device_key
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
    def __init__(
        self,
        session: AsyncSession,
        *,
        insecure_origins: Collection[str] = (),
        devices_per_channel: int = DEFAULT_DEVICES_PER_CHANNEL,
    ) -> None:
        self._endpoints = MemberEndpointService(session)
        # The bulk import's upsert (seeding: one browser per member, no device limit to check).
        self._endpoint_rows = MemberEndpointRepository(session)
        self._insecure_origins = frozenset(insecure_origins)
        self._devices_per_channel = devices_per_channel

    async def subscribe(
        self, member_id: uuid.UUID, subscription: WebPushSubscriptionIn
    ) -> tuple[PushSubscription, MemberEndpoint]:
        """Record the browser's subscription beside the member's other browsers; the same
        subscription (its endpoint URL) registered again updates its keys."""
        pushed = PushSubscription(
            endpoint=checked_endpoint(
                subscription.endpoint, insecure_origins=self._insecure_origins
            ),
            p256dh=subscription.keys.p256dh,
            auth=subscription.keys.auth,
        )
        endpoint = await self._endpoints.register_device(
            member_id,
            ChannelKind.WEBPUSH,
            identity=pushed.endpoint,
            address=subscription_address(pushed),
            limit=self._devices_per_channel,
        )
        log.info(
            "dispatch.webpush.subscribed", member_id=str(member_id), push_service=pushed.origin
        )
        return pushed, endpoint

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
                device_key(ChannelKind.WEBPUSH, subscription.endpoint),
            )
            for member_id, subscription in subscriptions
        ]
        recorded = await self._endpoint_rows.record_verified_many(endpoints)
        log.info("dispatch.endpoints.imported", channel=ChannelKind.WEBPUSH.value, count=recorded)
        return recorded

    async def unsubscribe(self, member_id: uuid.UUID, *, endpoint: str | None = None) -> bool:
        """Forget the browser whose subscription has this endpoint URL, or (None) every
        browser of the member's."""
        removed = await self._endpoints.remove(member_id, ChannelKind.WEBPUSH, identity=endpoint)
        if removed:
            log.info("dispatch.webpush.unsubscribed", member_id=str(member_id), count=removed)
        return bool(removed)
