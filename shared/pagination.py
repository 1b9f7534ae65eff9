"""Cursor pagination for list endpoints, newest first by ``(created_at, id)`` or, for lists
sorted by text columns (organisations by kind and code), by those columns (``KeysetCursor``).

A list answers with its page as before, and when more may follow, with the next page's
address in ``Link: <…>; rel="next"`` (RFC 8288) and its cursor in ``Next-Cursor``. A client
passes ``cursor`` back; unlike an offset, a cursor never skips or repeats an item when new
ones arrive meanwhile, and costs one index seek however deep. ``offset`` keeps working where
an endpoint had it (clients that use it are unchanged); the two are not combined.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import TawnyError

NEXT_CURSOR_HEADER = "Next-Cursor"
CursorParam = Annotated[
    str | None,
    Query(
        max_length=200,
        description="From a previous page's Next-Cursor header (or its Link rel=next): the "
        "page after it. Not combined with offset.",
    ),
]


class InvalidCursorError(TawnyError):
    status_code = 400
    slug = "invalid-cursor"
    title = "The cursor is not valid"


NOT_FROM_THIS_LIST = "This cursor was not given by this list; start again without one."


def _pack(values: list[str]) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(value: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


@dataclass(frozen=True)
class Cursor:
    """The last item of a page: the next page starts strictly after it."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return _pack([self.created_at.isoformat(), str(self.id)])

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            created_at, item_id = _unpack(value)
            cursor = cls(datetime.fromisoformat(created_at), uuid.UUID(item_id))
        except (ValueError, TypeError, binascii.Error) as error:
            raise InvalidCursorError(NOT_FROM_THIS_LIST) from error
        if cursor.created_at.tzinfo is None:
            raise InvalidCursorError("This cursor was not given by this list.")
        return cursor


def decode_cursor(value: str | None, *, offset: int = 0) -> Cursor | None:
    if value is None:
        return None
    if offset:
        raise InvalidCursorError("Page with cursor or with offset, not both.")
    return Cursor.decode(value)


def announce_next_page(
    request: Request, response: Response, last: tuple[datetime, uuid.UUID] | None
) -> None:
    """Set ``Link`` and ``Next-Cursor`` to the page after ``last`` (None: no more)."""
    if last is not None:
        _link_next_page(request, response, Cursor(*last).encode())


def _link_next_page(request: Request, response: Response, cursor: str) -> None:
    # A query-only reference (RFC 3986, 5.2): it resolves against the URL the client used, so
    # it stays right behind the gateway, where this service's own URL is not the public one.
    query = request.url.remove_query_params(["cursor", "offset"]).include_query_params(
        cursor=cursor
    )
    url = f"?{query.query}"
    response.headers[NEXT_CURSOR_HEADER] = cursor
    response.headers["Link"] = f'<{url}>; rel="next"'


def before(
    created_at: InstrumentedAttribute[datetime],
    item_id: InstrumentedAttribute[uuid.UUID],
    cursor: Cursor,
) -> ColumnElement[bool]:
    """The rows after ``cursor`` in newest-first order (for a repository's WHERE)."""
    return tuple_(created_at, item_id) < tuple_(cursor.created_at, cursor.id)


def announce_if_full(
    request: Request,
    response: Response,
    page: Sequence[Any],
    limit: int,
) -> None:
    """Announce the next page when this one is full (its last item is the cursor)."""
    if len(page) == limit and page:
        announce_next_page(request, response, (page[-1].created_at, page[-1].id))


@dataclass(frozen=True)
class KeysetCursor:
    """The sort key of a page's last item in a list sorted ascending by text columns."""

    keys: tuple[str, ...]

    def encode(self) -> str:
        return _pack(list(self.keys))

    @classmethod
    def decode(cls, value: str | None, *, arity: int, offset: int = 0) -> KeysetCursor | None:
        if value is None:
            return None
        if offset:
            raise InvalidCursorError("Page with cursor or with offset, not both.")
        try:
            keys = _unpack(value)
        except (ValueError, binascii.Error) as error:
            raise InvalidCursorError(NOT_FROM_THIS_LIST) from error
        if (
            not isinstance(keys, list)
            or len(keys) != arity
            or not all(isinstance(key, str) for key in keys)
        ):
            raise InvalidCursorError(NOT_FROM_THIS_LIST)
        return cls(tuple(keys))

    def after(self, *columns: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """The rows after this cursor in ascending order of ``columns`` (for a WHERE)."""
        return tuple_(*columns) > tuple_(*self.keys)


def announce_next_keys(
    request: Request, response: Response, page: Sequence[Any], limit: int, *key_names: str
) -> None:
    """Announce the next page of a keyset-sorted list when this one is full."""
    if len(page) == limit and page:
        last = page[-1]
        keys = tuple(str(getattr(last, name)) for name in key_names)
        _link_next_page(request, response, KeysetCursor(keys).encode())
