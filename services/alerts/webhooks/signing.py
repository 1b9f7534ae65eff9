"""How Tawny signs a webhook callback, and how a receiver checks it.

Each callback carries:

- ``Tawny-Webhook-Id``: the delivery's id, the same on every retry (drop repeats by it);
- ``Tawny-Webhook-Event``: ``alert.approved``, ``alert.published``, ``alert.updated``,
  ``alert.cancelled`` or ``alert.delivery_totals``;
- ``Tawny-Webhook-Timestamp``: seconds since the epoch when this attempt was signed;
- ``Tawny-Webhook-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed with the webhook's
  secret, of ``timestamp + "." + body`` (the exact bytes received).

A receiver recomputes the HMAC over the raw body, compares in constant time, and refuses a
timestamp older than a few minutes (a replayed capture).
"""

from __future__ import annotations

import hashlib
import hmac
import time

ID_HEADER = "Tawny-Webhook-Id"
EVENT_HEADER = "Tawny-Webhook-Event"
TIMESTAMP_HEADER = "Tawny-Webhook-Timestamp"
SIGNATURE_HEADER = "Tawny-Webhook-Signature"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Tawny-Webhook-Signature`` value for ``body`` signed at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify(
    secret: str,
    *,
    timestamp: str,
    body: bytes,
    received: str,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a callback is Tawny's: the signature matches and the timestamp is recent."""
    if not timestamp.isdigit():
        return False
    signed_at = int(timestamp)
    if abs((time.time() if now is None else now) - signed_at) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, signed_at, body), received)
