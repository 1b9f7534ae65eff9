"""SMS segments as providers bill them, and text cut to fit."""

from __future__ import annotations

import pytest

from shared.sms import SmsEncoding, SmsSegments, count_segments, fit_segments, non_gsm_characters

GSM, UCS2 = SmsEncoding.GSM7, SmsEncoding.UCS2


class TestCountSegments:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", SmsSegments(GSM, 0, 0)),
            ("a" * 160, SmsSegments(GSM, 160, 1)),
            ("a" * 161, SmsSegments(GSM, 161, 2)),
            ("a" * 306, SmsSegments(GSM, 306, 2)),
            ("a" * 307, SmsSegments(GSM, 307, 3)),
            # £ and é are in the GSM alphabet; € and [ cost an escape each.
            ("£é" * 80, SmsSegments(GSM, 160, 1)),
            ("€" * 80, SmsSegments(GSM, 160, 1)),
            ("€" * 81, SmsSegments(GSM, 162, 2)),
            # One character outside GSM-7 makes the whole message UCS-2.
            ("a" * 69 + "ł", SmsSegments(UCS2, 70, 1)),
            ("a" * 70 + "ł", SmsSegments(UCS2, 71, 2)),
            ("ł" * 134, SmsSegments(UCS2, 134, 2)),
            ("ł" * 135, SmsSegments(UCS2, 135, 3)),
            # An emoji is two UTF-16 code units.
            ("🦉" * 35, SmsSegments(UCS2, 70, 1)),
        ],
    )
    def test_counts(self, text: str, expected: SmsSegments) -> None:
        assert count_segments(text) == expected

    def test_an_escaped_character_is_never_split_across_segments(self) -> None:
        # 152 septets, then "€" (2 septets) does not fit the first 153: it starts the second.
        text = "a" * 152 + "€" + "a" * 152

        assert count_segments(text) == SmsSegments(GSM, 306, 3)

    def test_a_surrogate_pair_is_never_split_across_segments(self) -> None:
        text = "ł" * 66 + "🦉" + "ł" * 66

        assert count_segments(text) == SmsSegments(UCS2, 134, 3)


class TestFitting:
    def test_gsm_text_is_cut_with_a_gsm_ellipsis(self) -> None:
        fitted = fit_segments("word " * 200, 2)

        assert fitted.endswith("...")
        assert count_segments(fitted) == SmsSegments(GSM, len(fitted), 2)

    def test_ucs2_text_is_cut_on_a_character_boundary(self) -> None:
        fitted = fit_segments("🦉" * 200, 1)

        assert fitted.endswith("…")
        assert count_segments(fitted).segments == 1
        assert fitted.removesuffix("…") == "🦉" * 34

    def test_names_the_characters_that_force_ucs2(self) -> None:
        curly = "\u2019"  # a curly apostrophe, as word processors type one
        assert non_gsm_characters(f"It{curly}s 5 o{curly}clock 🦉, €5") == (curly, "🦉")
