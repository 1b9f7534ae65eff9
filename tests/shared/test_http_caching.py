"""The ETag and If-None-Match rules every cacheable answer shares (shared.http_caching)."""

from __future__ import annotations

from shared.http_caching import cacheable_response, etag_matches, strong_etag

BODY = b'{"members_watching": 12}'


class TestStrongEtag:
    def test_is_a_quoted_tag_that_follows_the_bytes(self) -> None:
        etag = strong_etag(BODY)

        assert etag.startswith('"') and etag.endswith('"') and len(etag) == 26
        assert strong_etag(BODY) == etag
        assert strong_etag(BODY + b" ") != etag


class TestEtagMatches:
    def test_weak_comparison_of_a_list_of_tags_or_any(self) -> None:
        etag = strong_etag(BODY)

        assert etag_matches(etag, etag)
        assert etag_matches(f'"other", W/{etag}', etag)
        assert etag_matches(f" {etag} ,", etag)
        assert etag_matches("*", etag)
        assert etag_matches(etag, f"W/{etag}")

    def test_no_header_or_other_tags_do_not_match(self) -> None:
        etag = strong_etag(BODY)

        assert not etag_matches(None, etag)
        assert not etag_matches("", etag)
        assert not etag_matches('"stale", W/"older"', etag)
        assert not etag_matches(etag.strip('"'), etag)


class TestCacheableResponse:
    def test_the_body_with_its_validator_and_caching_headers(self) -> None:
        response = cacheable_response(
            BODY,
            media_type="application/json",
            cache_control="public, max-age=60",
            if_none_match='"stale"',
            headers={"Vary": "Authorization"},
        )

        assert (response.status_code, response.body) == (200, BODY)
        assert response.headers["etag"] == strong_etag(BODY)
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.headers["vary"] == "Authorization"
        assert response.headers["content-type"] == "application/json"

    def test_a_matching_validator_gets_304_with_the_same_headers_and_no_body(self) -> None:
        response = cacheable_response(
            BODY,
            media_type="application/geo+json",
            cache_control="public, max-age=300",
            if_none_match='W/"given"',
            etag='"given"',
        )

        assert (response.status_code, response.body) == (304, b"")
        assert response.headers["etag"] == '"given"'
        assert response.headers["cache-control"] == "public, max-age=300"
        assert "content-type" not in response.headers
