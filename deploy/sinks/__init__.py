"""Local stand-ins for the outside services Tawny hands messages to: a mail server
(``smtp``), a web push service (``webpush``), FCM (``fcm``) and GOV.UK Notify (``notify``).

They accept what the platform sends, keep it in memory and let people and tests read it back;
they deliver nothing onwards. The dev stack starts them as processes; tests run them in-process.
Each can be told to misbehave through one fault book (``running.FaultBook``; the HTTP sinks'
faults are ``http.HttpFault``) and runs as a process through ``running.run_sink``.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Generic, TypeVar

Item = TypeVar("Item")

AFTER_DESCRIPTION = (
    "Only what arrived after the first N ever received: a poller passes how many it has seen "
    "and reads only what is new (the sink keeps the newest few thousand)"
)


class ReceivedLog(deque[Item], Generic[Item]):
    """What a sink received, newest ``maxlen`` kept, counting every item ever appended so a
    poller can ask for what is new (:meth:`after`) instead of the whole log each time."""

    def __init__(self, maxlen: int) -> None:
        super().__init__(maxlen=maxlen)
        self.appended = 0

    def append(self, item: Item) -> None:
        super().append(item)
        self.appended += 1

    def after(self, seen: int) -> list[Item]:
        """The items after the first ``seen`` ever appended (those still kept)."""
        first_kept = self.appended - len(self)
        return list(islice(self, max(0, seen - first_kept), None))
