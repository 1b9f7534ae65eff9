"""The dispatch service: learns where members can be reached, emails verification links, and
sends each published alert to every member of its recipient batches, once per channel.

    uvicorn services.dispatch.app:create_app --factory

It publishes no events; it consumes identity's member events (``dispatch.members``) and geo's
recipient batches (``dispatch.deliveries``).
"""

from __future__ import annotations

from fastapi import FastAPI

from services.dispatch.channels.base import Channel
from services.dispatch.channels.email import EmailChannel
from services.dispatch.config import DispatchSettings
from services.dispatch.deliveries.consumers import recipient_batches_consumer
from services.dispatch.deliveries.endpoints import router as deliveries_router
from services.dispatch.members.consumers import member_events_consumer
from services.dispatch.members.endpoints import router as endpoints_router
from services.dispatch.models import ChannelKind, ProcessedEvent
from shared.app import create_service_app


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    # Built here, not in the lifespan: it opens nothing until the first send.
    email = EmailChannel.from_settings(settings)
    channels: dict[ChannelKind, Channel] = {ChannelKind.EMAIL: email}
    return create_service_app(
        name="dispatch",
        title="Tawny dispatch",
        description="Sends published alerts to the members who asked for them, once per alert, "
        "member and channel (email today), and reports how far each alert has got.",
        settings=settings,
        routers=[deliveries_router, endpoints_router],
        processed_model=ProcessedEvent,
        consumers=(member_events_consumer(email), recipient_batches_consumer(channels)),
    )
