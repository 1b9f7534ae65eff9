"""Signed unsubscribe tokens: what they name, and what they refuse."""

from __future__ import annotations

import uuid

import pytest

from services.dispatch.preferences.tokens import (
    InvalidUnsubscribeTokenError,
    UnsubscribeLinks,
    UnsubscribeScope,
    UnsubscribeTokens,
)

TOKENS = UnsubscribeTokens(b"k" * 32)


class TestUnsubscribeTokens:
    def test_a_token_names_its_member_and_everything(self) -> None:
        scope = UnsubscribeScope(uuid.uuid4())

        assert TOKENS.verify(TOKENS.sign(scope)) == scope

    def test_a_token_names_its_member_and_one_category(self) -> None:
        scope = UnsubscribeScope(uuid.uuid4(), "violence_with_injury")

        assert TOKENS.verify(TOKENS.sign(scope)) == scope

    def test_refuses_a_token_signed_with_another_key(self) -> None:
        token = UnsubscribeTokens(b"x" * 32).sign(UnsubscribeScope(uuid.uuid4()))

        with pytest.raises(InvalidUnsubscribeTokenError):
            TOKENS.verify(token)

    def test_refuses_a_token_whose_member_was_changed(self) -> None:
        token = TOKENS.sign(UnsubscribeScope(uuid.uuid4()))
        forged = str(uuid.uuid4()) + token[36:]

        with pytest.raises(InvalidUnsubscribeTokenError):
            TOKENS.verify(forged)

    @pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 400, "..", "é.é.é"])
    def test_refuses_what_is_not_a_token(self, token: str) -> None:
        with pytest.raises(InvalidUnsubscribeTokenError):
            TOKENS.verify(token)

    def test_links_start_with_the_public_base_url(self) -> None:
        links = UnsubscribeLinks("https://tawny.london", TOKENS)
        scope = UnsubscribeScope(uuid.uuid4())

        url = links.url(scope)

        assert url.startswith("https://tawny.london/api/dispatch/unsubscribe?token=")
        assert TOKENS.verify(url.partition("token=")[2]) == scope
