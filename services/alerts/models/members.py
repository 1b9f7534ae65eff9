"""What alerts keeps about members identity told it of: suspensions, and its part of a
member's export."""

from __future__ import annotations

from services.alerts.models.base import Base
from shared.exports import ExportPartMixin
from shared.members import SuspendedMemberMixin


class SuspendedMember(SuspendedMemberMixin, Base):
    """A member identity suspended (``member.suspended``): they may not reply to alerts nor mark
    them until ``member.reinstated`` removes the row. Their access token may still be valid
    for up to 15 minutes, so its signature alone does not say whether they may act."""


class MemberExportPart(ExportPartMixin, Base):
    """Alerts' part of a member's export (``member.export_requested``): their replies and
    marks, kept a few days for them to download (``shared.exports``)."""
