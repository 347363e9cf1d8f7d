"""How a delivery is signed, and how a receiver checks it (the README's snippet does the same in a few lines).

    X-Scheduler-Signature: t=<unix seconds>, v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the channel's secret>

The timestamp is signed with the body, so a receiver that refuses old timestamps (`tolerance`) cannot be replayed
a captured delivery later; the event id (X-Scheduler-Event-Id, and "id" in a JSON body) lets it drop a delivery it
has already processed (deliveries are at least once)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-Scheduler-Signature"
EVENT_ID_HEADER: Final = "X-Scheduler-Event-Id"
EVENT_TYPE_HEADER: Final = "X-Scheduler-Event-Type"
# Seconds a receiver accepts between a delivery's timestamp and its own clock, by default.
DEFAULT_TOLERANCE_S: Final = 300.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret (UTF-8)."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp}, v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = DEFAULT_TOLERANCE_S) -> bool:
    """Whether `header` signs `body` with `secret`, at a timestamp within `tolerance` seconds of `now` (unix)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
