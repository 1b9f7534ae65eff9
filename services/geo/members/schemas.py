"""Geo's part of a member's export (``shared.exports.ExportPart``'s ``data``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from services.geo.subscriptions.schemas import Subscription


class GeoExport(BaseModel):
    """What geo holds about the member: the areas they watch (their home ward included) with
    their filters, and whether identity suspended them. Which alerts reached them is in
    dispatch's part."""

    subscriptions: list[Subscription]
    suspended_at: datetime | None
