from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.identity.config import DEV_WARDS_CSV, IdentitySettings

KEYS = "k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
INDEX_KEY = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()


class TestIdentitySettings:
    def test_defaults(self) -> None:
        settings = IdentitySettings(environment="test")

        assert settings.access_token_ttl_s == 900
        assert settings.email_verification_ttl_h == 48
        assert settings.public_base_url == "http://127.0.0.1:8000"
        assert settings.seed_officer_email is None

    def test_reads_prefixed_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("IDENTITY_PUBLIC_BASE_URL", "https://tawny.example/")
        monkeypatch.setenv("IDENTITY_ACCESS_TOKEN_TTL_S", "300")
        monkeypatch.setenv("IDENTITY_SEED_OFFICER_EMAIL", "officer@example.com")
        monkeypatch.setenv("IDENTITY_SEED_OFFICER_PASSWORD", "officer passphrase")

        settings = IdentitySettings(environment="test")

        assert settings.public_base_url == "https://tawny.example"
        assert settings.access_token_ttl_s == 300
        assert settings.seed_officer_email == "officer@example.com"
        assert settings.seed_officer_password is not None
        assert "officer passphrase" not in repr(settings)

    def test_tokens_live_at_most_fifteen_minutes(self) -> None:
        with pytest.raises(ValidationError):
            IdentitySettings(environment="test", access_token_ttl_s=901)

    def test_trusted_proxies_are_addresses_or_networks(self) -> None:
        settings = IdentitySettings(environment="test", trusted_proxies="127.0.0.1, 10.0.0.0/8")

        assert settings.is_trusted_proxy("127.0.0.1")
        assert settings.is_trusted_proxy("10.42.7.3")
        assert not settings.is_trusted_proxy("192.168.1.1")
        assert not settings.is_trusted_proxy("testclient")
        with pytest.raises(ValidationError, match="not an IP address or network"):
            IdentitySettings(environment="test", trusted_proxies="gateway.local")

    def test_a_seed_needs_both_email_and_password(self) -> None:
        with pytest.raises(ValidationError, match="must be set together"):
            IdentitySettings(environment="test", seed_admin_email="admin@example.com")

    def test_production_refuses_seeded_members(self) -> None:
        with pytest.raises(ValidationError, match="never production"):
            IdentitySettings(
                environment="production",
                public_base_url="https://tawny.london",
                seed_officer_email="officer@example.com",
                seed_officer_password="officer passphrase",
            )

    def test_production_needs_https_links(self) -> None:
        with pytest.raises(ValidationError, match="https"):
            IdentitySettings(
                environment="production",
                public_base_url="http://tawny.london",
                data_keys=KEYS,
                blind_index_key=INDEX_KEY,
            )
        assert IdentitySettings(
            environment="production",
            public_base_url="https://tawny.london",
            data_keys=KEYS,
            blind_index_key=INDEX_KEY,
        )

    def test_production_needs_data_keys(self) -> None:
        with pytest.raises(ValidationError, match="IDENTITY_DATA_KEYS"):
            IdentitySettings(environment="production", public_base_url="https://tawny.london")
        with pytest.raises(ValidationError, match="IDENTITY_BLIND_INDEX_KEY"):
            IdentitySettings(
                environment="production", public_base_url="https://tawny.london", data_keys=KEYS
            )

    def test_old_signing_keys_outlive_the_tokens_they_signed(self) -> None:
        with pytest.raises(ValidationError, match="SIGNING_KEY_GRACE_S"):
            IdentitySettings(environment="test", access_token_ttl_s=900, signing_key_grace_s=900)

    def test_wards_file_defaults_only_in_development(self, tmp_path: Path) -> None:
        assert IdentitySettings(environment="test").wards_csv() is None
        custom = tmp_path / "wards.csv"
        assert IdentitySettings(environment="test", borough_wards_csv=custom).wards_csv() == custom
        if DEV_WARDS_CSV.is_file():
            assert IdentitySettings(environment="development").wards_csv() == DEV_WARDS_CSV
