"""The delivery signature: HMAC-SHA256 over "<t>.<body>", checked the way the README tells receivers to check it.
A fixed vector pins the format; tampering with the body, the timestamp or the key, or an old timestamp, fails."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from scheduler_core.notifications import sign, signature_header, verify

SECRET = "whsec-unit-test"
BODY = b'{"id":"7f1c","type":"run.failed"}'
T = 1_800_000_000


def test_the_signature_is_the_hex_hmac_sha256_of_the_timestamp_a_dot_and_the_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, T, BODY) == expected
    assert signature_header(SECRET, T, BODY) == f"t={T}, v1={expected}"
    # A vector computed apart (`printf '1.{}' | openssl dgst -sha256 -hmac key`), so that a change of format is seen
    # here before receivers see it.
    assert sign("key", 1, b"{}") == "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"


def test_the_readme_snippet_accepts_a_signed_body() -> None:
    header = signature_header(SECRET, T, BODY)
    # As the README's snippet does it: the parts, the expected HMAC, a constant-time comparison.
    parts = dict(part.strip().split("=", 1) for part in header.split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])


@pytest.mark.parametrize(
    ("secret", "header_t", "body", "now"),
    [
        (SECRET, T, BODY, T + 10),  # within the tolerance
        (SECRET, T, BODY, T - 10),  # a receiver's clock a little behind
    ],
)
def test_a_valid_signature_verifies(secret: str, header_t: int, body: bytes, now: float) -> None:
    assert verify(secret, signature_header(secret, header_t, body), body, now=now)


@pytest.mark.parametrize(
    ("header", "body", "now"),
    [
        (signature_header(SECRET, T, BODY), BODY + b" ", T),  # the body changed
        (signature_header("another secret", T, BODY), BODY, T),  # another key
        (signature_header(SECRET, T, BODY).replace(f"t={T}", f"t={T + 1}"), BODY, T),  # the timestamp changed
        (signature_header(SECRET, T, BODY), BODY, T + 301),  # too old: a replay
        (f"v1={sign(SECRET, T, BODY)}", BODY, T),  # no timestamp
        (f"t={T}", BODY, T),  # no signature
        ("", BODY, T),
    ],
)
def test_a_tampered_old_or_malformed_signature_does_not_verify(header: str, body: bytes, now: float) -> None:
    assert not verify(SECRET, header, body, now=now)
