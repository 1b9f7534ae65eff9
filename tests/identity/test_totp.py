from __future__ import annotations

import pytest

from services.identity import totp

RFC_SECRET = b"12345678901234567890"


class TestTotp:
    @pytest.mark.parametrize(
        ("at", "code"),
        # RFC 6238 appendix B (SHA-1), last six of the eight digits.
        [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
    )
    def test_matches_the_rfc_6238_vectors(self, at: int, code: str) -> None:
        assert totp.totp(RFC_SECRET, now=at) == code

    def test_accepts_one_step_of_clock_drift_either_side(self) -> None:
        now = 1_000_000_000.0
        for drift in (-30, 0, 30):
            code = totp.totp(RFC_SECRET, now=now + drift)
            assert totp.matching_step(RFC_SECRET, code, after_step=None, now=now) is not None
        late = totp.totp(RFC_SECRET, now=now - 90)
        assert totp.matching_step(RFC_SECRET, late, after_step=None, now=now) is None

    def test_a_code_is_never_accepted_twice(self) -> None:
        now = 1_000_000_000.0
        code = totp.totp(RFC_SECRET, now=now)
        step = totp.matching_step(RFC_SECRET, code, after_step=None, now=now)
        assert step == totp.current_step(now)
        assert totp.matching_step(RFC_SECRET, code, after_step=step, now=now) is None

    def test_provisioning_uri_carries_the_base32_secret(self) -> None:
        uri = totp.provisioning_uri(RFC_SECRET, account="Neighbour 4821")
        assert uri.startswith("otpauth://totp/Tawny%3ANeighbour%204821?")
        assert f"secret={totp.base32(RFC_SECRET)}" in uri
