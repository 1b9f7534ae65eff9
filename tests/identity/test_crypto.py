from __future__ import annotations

import base64
import os

import pytest

from services.identity.config import IdentitySettings
from services.identity.crypto import DataCipher, DataKeyError, parse_keys


def key_spec(*key_ids: str) -> str:
    return ",".join(
        f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"
        for key_id in key_ids
    )


class TestDataCipher:
    def test_round_trip_names_the_key(self) -> None:
        cipher = DataCipher(parse_keys(key_spec("k1")))
        sealed = cipher.encrypt(b"sam@example.com", purpose="email")
        assert sealed.startswith(b"k1:")
        assert b"sam@example.com" not in sealed
        assert cipher.decrypt(sealed, purpose="email") == b"sam@example.com"

    def test_a_value_only_decrypts_for_its_purpose(self) -> None:
        cipher = DataCipher(parse_keys(key_spec("k1")))
        sealed = cipher.encrypt(b"secret", purpose="member.totp_secret")
        with pytest.raises(DataKeyError):
            cipher.decrypt(sealed, purpose="email")

    def test_tampering_is_detected(self) -> None:
        cipher = DataCipher(parse_keys(key_spec("k1")))
        sealed = bytearray(cipher.encrypt(b"secret", purpose="p"))
        sealed[-1] ^= 1
        with pytest.raises(DataKeyError):
            cipher.decrypt(bytes(sealed), purpose="p")

    def test_rotation_new_key_encrypts_old_key_still_decrypts(self) -> None:
        old_spec = key_spec("k1")
        old = DataCipher(parse_keys(old_spec))
        sealed_before = old.encrypt(b"secret", purpose="p")
        rotated = DataCipher(parse_keys(key_spec("k2") + "," + old_spec))
        assert rotated.decrypt(sealed_before, purpose="p") == b"secret"
        assert rotated.encrypt(b"secret", purpose="p").startswith(b"k2:")

    @pytest.mark.parametrize("spec", ["", "nokey", "k1:c2hvcnQ", ":" + "A" * 43])
    def test_malformed_keys_are_refused(self, spec: str) -> None:
        with pytest.raises(DataKeyError):
            parse_keys(spec)

    def test_outside_production_a_development_key_is_used(self) -> None:
        cipher = DataCipher.from_settings(IdentitySettings(environment="test"))
        assert cipher.encrypt(b"x", purpose="p").startswith(b"dev:")
