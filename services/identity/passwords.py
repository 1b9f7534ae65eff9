"""Password policy and hashing (argon2id).

Hashing is deliberately slow and CPU-bound, so it runs in a worker thread: the event loop
keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128

# Passwords long enough to pass the length rule that still top every breach list.
COMMON_PASSWORDS = frozenset(
    {
        "0000000000",
        "0123456789",
        "1111111111",
        "1234567890",
        "12345678910",
        "123456789a",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "9876543210",
        "aaaaaaaaaa",
        "abcdefghij",
        "abc1234567",
        "administrator",
        "changeme123",
        "football123",
        "iloveyou123",
        "letmein123",
        "london1234",
        "londonlondon",
        "monkey12345",
        "neighbourhood",
        "passw0rd123",
        "password12",
        "password123",
        "password1234",
        "password12345",
        "passwordpassword",
        "princess123",
        "q1w2e3r4t5",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "qwertyuiop",
        "sunshine123",
        "trustno1234",
        "welcome123",
        "zaq12wsxcde",
    }
)

_hasher = PasswordHasher(type=Type.ID)


def check_password_policy(password: str) -> str:
    """Length is checked by the schema; this refuses the passwords guessed first."""
    if password.strip().lower() in COMMON_PASSWORDS:
        raise ValueError("this password is too common; choose a less guessable one")
    return password


def _normalise(password: str) -> str:
    # The same password typed on two keyboards may arrive in two Unicode forms.
    return unicodedata.normalize("NFKC", password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, _normalise(password))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, _normalise(password))
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not a real password, only spends the same time")


async def spend_verification_time(password: str) -> None:
    """Do the work of a real check when there is no member, so timing reveals nothing."""
    await asyncio.to_thread(_verify, _dummy_hash(), password)


async def warm_up() -> None:
    """Compute the dummy hash at startup, not during the first unknown-email sign-in."""
    await asyncio.to_thread(_dummy_hash)
