"""Signed one-click unsubscribe links (RFC 8058): a token names a member and a scope (one
category of alerts, or all of them), signed with HMAC-SHA256 so that nobody can unsubscribe
someone else by guessing.

    <member id>.<scope, base64url>.<HMAC-SHA256 of both, base64url>

A token does not expire: RFC 8058 expects the link in an old email to keep working, and what it
allows (stopping alerts to that member) is what its holder, the mailbox's owner, may do anyway.
Changing the key voids every link already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from services.dispatch.errors import DispatchError

ALL: Final = "all"
_CATEGORY_PREFIX: Final = "category:"
TOKEN_MAX_LENGTH: Final = 300
UNSUBSCRIBE_PATH: Final = "/api/dispatch/unsubscribe"


class InvalidUnsubscribeTokenError(DispatchError):
    status_code = 400
    slug = "invalid-unsubscribe-token"
    title = "This unsubscribe link is not valid"


@dataclass(frozen=True)
class UnsubscribeScope:
    """What a link unsubscribes from: one category (``category``) or everything (None)."""

    member_id: uuid.UUID
    category: str | None = None

    @property
    def encoded(self) -> str:
        return ALL if self.category is None else f"{_CATEGORY_PREFIX}{self.category}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UnsubscribeTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, message: str) -> bytes:
        return hmac.new(self._key, message.encode(), hashlib.sha256).digest()

    def sign(self, scope: UnsubscribeScope) -> str:
        message = f"{scope.member_id}.{_b64(scope.encoded.encode())}"
        return f"{message}.{_b64(self._mac(message))}"

    def verify(self, token: str) -> UnsubscribeScope:
        invalid = InvalidUnsubscribeTokenError(
            "The link is damaged or was not made by Tawny. Sign in to change your alerts."
        )
        if len(token) > TOKEN_MAX_LENGTH:
            raise invalid
        message, dot, signature = token.rpartition(".")
        member_text, _dot, scope_text = message.partition(".")
        if not (dot and member_text and scope_text):
            raise invalid
        try:
            expected_ok = hmac.compare_digest(_unb64(signature), self._mac(message))
            member_id = uuid.UUID(member_text)
            scope = _unb64(scope_text).decode()
        except (ValueError, binascii.Error):
            raise invalid from None
        if not expected_ok:
            raise invalid
        if scope == ALL:
            return UnsubscribeScope(member_id)
        if scope.startswith(_CATEGORY_PREFIX) and len(scope) > len(_CATEGORY_PREFIX):
            return UnsubscribeScope(member_id, scope.removeprefix(_CATEGORY_PREFIX))
        raise invalid


@dataclass(frozen=True)
class UnsubscribeLinks:
    """The links alert emails carry: ``<public base URL>/api/dispatch/unsubscribe?token=...``."""

    public_base_url: str
    tokens: UnsubscribeTokens

    def url(self, scope: UnsubscribeScope) -> str:
        query = urlencode({"token": self.tokens.sign(scope)})
        return f"{self.public_base_url}{UNSUBSCRIBE_PATH}?{query}"
