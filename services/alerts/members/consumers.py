"""The ``alerts.members`` consumer: identity's erasures, suspensions, reinstatements and
export requests, each handled by :class:`MemberLifecycleService`."""

from __future__ import annotations

from services.alerts.config import AlertsSettings
from services.alerts.members.service import MemberLifecycleService
from shared.events import Topic
from shared.members import lifecycle_handlers
from shared.runtime import ConsumerSpec

MEMBERS_GROUP = "alerts.members"


def members_consumer(settings: AlertsSettings) -> ConsumerSpec:
    return ConsumerSpec(
        group_id=MEMBERS_GROUP,
        topics=(Topic.MEMBERS.value,),
        handlers=lifecycle_handlers(
            lambda session: MemberLifecycleService(session, settings=settings)
        ),
    )
