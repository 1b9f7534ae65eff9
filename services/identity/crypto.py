"""Encryption of personal data and secrets at rest: AES-256-GCM with a key id in every value,
so keys can be rotated (add a new key first in ``IDENTITY_DATA_KEYS``; old values still
decrypt with the key they name)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.identity.config import IdentitySettings
from shared.settings import Environment

NONCE_BYTES = 12
KEY_ID_MAX_LENGTH = 32
# Used only when no keys are configured outside production (check_production refuses that).
_DEVELOPMENT_KEY = hashlib.sha256(b"tawny identity development data key").digest()
_DEVELOPMENT_INDEX_KEY = hashlib.sha256(b"tawny identity development blind-index key").digest()
EMAIL_PURPOSE = "member.email"
NAME_PURPOSE = "member.name"
PHONE_PURPOSE = "member.phone"
ADDRESS_PURPOSE = "member.address"
PENDING_ADDRESS_PURPOSE = "address_verification.address"
DOCUMENT_PURPOSE = "verification_document.content"
SIGNING_KEY_PURPOSE = "signing_key.private_key"


class DataKeyError(ValueError):
    pass


def decode_key(encoded: str) -> bytes:
    key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    if len(key) != 32:
        raise DataKeyError("a key is 32 bytes, base64url-encoded")
    return key


def parse_keys(spec: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in spec.split(","):
        key_id, separator, encoded = item.strip().partition(":")
        if not separator or not key_id or len(key_id) > KEY_ID_MAX_LENGTH:
            raise DataKeyError("each data key is key-id:base64url-key")
        keys[key_id] = decode_key(encoded)
    if not keys:
        raise DataKeyError("no data keys")
    return keys


class DataCipher:
    """``encrypt`` binds each value to its purpose (associated data), so a ciphertext copied
    from one column into another does not decrypt."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = next(iter(keys))

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> DataCipher:
        if settings.data_keys is not None:
            return cls(parse_keys(settings.data_keys.get_secret_value()))
        if settings.environment is Environment.PRODUCTION:
            raise DataKeyError("IDENTITY_DATA_KEYS must be set in production")
        return cls({"dev": _DEVELOPMENT_KEY})

    def encrypt(self, plaintext: bytes, *, purpose: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._active].encrypt(nonce, plaintext, purpose.encode())
        return self._active.encode() + b":" + nonce + sealed

    @property
    def active_key_id(self) -> str:
        return self._active

    @staticmethod
    def key_id_of(value: bytes) -> str:
        return value.partition(b":")[0].decode(errors="replace")

    def reencrypt(self, value: bytes, *, purpose: str) -> bytes | None:
        """The value sealed again under the active key, or None if it already is."""
        if self.key_id_of(value) == self._active:
            return None
        return self.encrypt(self.decrypt(value, purpose=purpose), purpose=purpose)

    def decrypt(self, value: bytes, *, purpose: str) -> bytes:
        key_id, _, rest = value.partition(b":")
        aead = self._keys.get(key_id.decode(errors="replace"))
        if aead is None:
            raise DataKeyError(f"no data key {key_id!r}")
        try:
            return aead.decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], purpose.encode())
        except InvalidTag as error:
            raise DataKeyError("the value does not decrypt with its key") from error


class PersonalData:
    """A member's personal data at rest: email, name, phone and postal address AES-GCM
    encrypted; the email is found through an HMAC-SHA256 blind index of the normalised address
    (a unique column, so one address is one account).

    The index key cannot be rotated without re-indexing every member (decrypt, re-hash), which
    is why it is a separate key from the rotatable encryption keys.
    """

    def __init__(self, cipher: DataCipher, index_key: bytes) -> None:
        self._cipher = cipher
        self._index_key = index_key

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> PersonalData:
        if settings.blind_index_key is not None:
            index_key = decode_key(settings.blind_index_key.get_secret_value())
        elif settings.environment is Environment.PRODUCTION:
            raise DataKeyError("IDENTITY_BLIND_INDEX_KEY must be set in production")
        else:
            index_key = _DEVELOPMENT_INDEX_KEY
        return cls(DataCipher.from_settings(settings), index_key)

    def email_index(self, email: str) -> str:
        return hmac.new(self._index_key, email.encode(), hashlib.sha256).hexdigest()

    def seal_email(self, email: str) -> bytes:
        return self._cipher.encrypt(email.encode(), purpose=EMAIL_PURPOSE)

    def open_email(self, sealed: bytes) -> str:
        return self._cipher.decrypt(sealed, purpose=EMAIL_PURPOSE).decode()

    @property
    def cipher(self) -> DataCipher:
        return self._cipher

    def seal_text(self, value: str, *, purpose: str) -> bytes:
        return self._cipher.encrypt(value.encode(), purpose=purpose)

    def open_text(self, sealed: bytes, *, purpose: str) -> str:
        return self._cipher.decrypt(sealed, purpose=purpose).decode()

    def seal_json(self, value: dict[str, Any], *, purpose: str) -> bytes:
        return self._cipher.encrypt(json.dumps(value).encode(), purpose=purpose)

    def open_json(self, sealed: bytes, *, purpose: str) -> dict[str, Any]:
        opened: dict[str, Any] = json.loads(self._cipher.decrypt(sealed, purpose=purpose))
        return opened
