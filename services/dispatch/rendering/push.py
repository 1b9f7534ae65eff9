"""The JSON payload of a push notification (web push or FCM), always within the size a push
service accepts.

Push services take at most 4,096 bytes. For web push that is the *encrypted* body: RFC 8291's
``aes128gcm`` adds an 86-byte header (salt, record size, the sender's 65-byte public key), a
1-byte padding delimiter and a 16-byte tag, so the JSON itself may be at most 3,993 bytes; the
default limit is that, which fits FCM's 4,096 bytes of data too.

When the alert is too long, the body is cut (then, if need be, the title) on a character
boundary, never inside a UTF-8 sequence or a JSON escape, and ends with an ellipsis: the
payload is always valid JSON, and the notification links to the full alert.
"""

from __future__ import annotations

import json
from typing import Any, Final

from shared.events import AlertContent

PUSH_SERVICE_MAX_BYTES: Final = 4096
AES128GCM_OVERHEAD_BYTES: Final = 86 + 1 + 16
WEBPUSH_PAYLOAD_MAX_BYTES: Final = PUSH_SERVICE_MAX_BYTES - AES128GCM_OVERHEAD_BYTES
ELLIPSIS: Final = "…"


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _fit(payload: dict[str, Any], key: str, max_bytes: int) -> bool:
    """Shorten ``payload[key]`` to the longest prefix (plus an ellipsis) that fits; False if
    even an empty one does not."""
    full: str = payload[key]
    payload[key] = ""
    if len(_encode(payload)) > max_bytes:
        return False
    # The encoded size grows with the prefix's length: the longest that fits is found by halving.
    low, high = 0, len(full)
    while low < high:
        middle = (low + high + 1) // 2
        payload[key] = full[:middle] + ELLIPSIS
        if len(_encode(payload)) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    payload[key] = full[:low].rstrip() + ELLIPSIS if low else ""
    return True


def push_payload(
    content: AlertContent, *, url: str, max_bytes: int = WEBPUSH_PAYLOAD_MAX_BYTES
) -> bytes:
    """The notification as compact UTF-8 JSON of at most ``max_bytes`` bytes."""
    payload: dict[str, Any] = {
        "alert_id": str(content.alert_id),
        "title": content.headline,
        "body": content.body,
        "severity": content.severity,
        "urgency": content.urgency,
        "category": content.category,
        "sender": content.sender_name,
        "sent_at": content.sent_at.isoformat(),
        "url": url,
        # One notification per alert on a device: an update replaces the original.
        "tag": str(content.references or content.alert_id),
    }
    encoded = _encode(payload)
    if len(encoded) <= max_bytes:
        return encoded
    if _fit(payload, "body", max_bytes):
        return _encode(payload)
    if _fit(payload, "title", max_bytes):
        return _encode(payload)
    raise ValueError(f"a push payload cannot fit {max_bytes} bytes even without its text")
