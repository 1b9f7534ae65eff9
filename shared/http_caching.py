"""Validators for answers that browsers and the gateway may cache: a strong ETag from the bytes
of the body, and the 304 when the caller's ``If-None-Match`` names it (RFC 9110 section 13.1.2).

The gateway keeps its own byte-level twins of these (``services.gateway.caching``): it works
on raw ASGI headers, never on FastAPI responses."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from fastapi import Response, status


def strong_etag(body: bytes) -> str:
    """A strong validator that changes exactly when ``body`` does."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as ``If-None-Match`` asks: ``*``, or any listed tag equal to ``etag``
    once ``W/`` is dropped from both."""
    if if_none_match is None:
        return False
    bare = etag.removeprefix("W/")
    return any(
        tag == "*" or tag.removeprefix("W/") == bare
        for tag in (part.strip() for part in if_none_match.split(","))
    )


def cacheable_response(
    body: bytes,
    *,
    media_type: str,
    cache_control: str,
    if_none_match: str | None,
    etag: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` with its ETag (``strong_etag`` unless given) and caching headers, or a bodiless
    304 with the same headers when ``if_none_match`` names that ETag."""
    etag = etag or strong_etag(body)
    sent = {**(headers or {}), "ETag": etag, "Cache-Control": cache_control}
    if etag_matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=sent)
    return Response(body, media_type=media_type, headers=sent)
