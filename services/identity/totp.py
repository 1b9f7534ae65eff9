"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), SHA-1, 6 digits, 30 s:
what every authenticator app speaks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
import urllib.parse

DIGITS = 6
STEP_S = 30
# One step either side tolerates a phone clock that is a little off.
WINDOW = 1
SECRET_BYTES = 20


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def base32(secret: bytes) -> str:
    return base64.b32encode(secret).decode().rstrip("=")


def hotp(secret: bytes, counter: int) -> str:
    digest = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_S)


def totp(secret: bytes, now: float | None = None) -> str:
    return hotp(secret, current_step(now))


def matching_step(
    secret: bytes, code: str, *, after_step: int | None, now: float | None = None
) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than ``after_step``
    (a code, once accepted, is never accepted again)."""
    step = current_step(now)
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if after_step is not None and candidate <= after_step:
            continue
        if hmac.compare_digest(hotp(secret, candidate), code):
            return candidate
    return None


def provisioning_uri(secret: bytes, *, account: str, issuer: str = "Tawny") -> str:
    label = urllib.parse.quote(f"{issuer}:{account}")
    query = urllib.parse.urlencode(
        {"secret": base32(secret), "issuer": issuer, "digits": DIGITS, "period": STEP_S}
    )
    return f"otpauth://totp/{label}?{query}"
